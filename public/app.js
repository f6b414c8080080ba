// Progressive enhancement only: every page works without this file (and the CSP allows no inline
// script, so behaviour lives here). It gives the links that leave for Instagram and the buttons that
// change data a visible busy state while the next page loads, and stops a form from being sent twice.
'use strict';

(function () {
  function setBusy(element) {
    element.setAttribute('aria-disabled', 'true');
    element.classList.add('is-busy');
    const label = element.getAttribute('data-busy-label');
    if (label) {
      element.setAttribute('data-idle-label', element.textContent);
      element.textContent = label;
    }
  }

  function clearBusy(element) {
    element.removeAttribute('aria-disabled');
    element.classList.remove('is-busy');
    const idle = element.getAttribute('data-idle-label');
    if (idle !== null) {
      element.textContent = idle;
      element.removeAttribute('data-idle-label');
    }
  }

  document.addEventListener('click', function (event) {
    const link = event.target instanceof Element ? event.target.closest('a[data-busy-label]') : null;
    if (!link) return;
    // A new tab or window leaves this page as it is.
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    if (link.classList.contains('is-busy')) {
      event.preventDefault();
      return;
    }
    setBusy(link);
  });

  document.addEventListener('submit', function (event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.getAttribute('aria-busy') === 'true') {
      event.preventDefault();
      return;
    }
    form.setAttribute('aria-busy', 'true');
    const button = event.submitter || form.querySelector('button[type="submit"]');
    if (button) setBusy(button);
  });

  // A page restored from the back/forward cache must not stay busy.
  window.addEventListener('pageshow', function (event) {
    if (!event.persisted) return;
    document.querySelectorAll('.is-busy').forEach(clearBusy);
    document.querySelectorAll('form[aria-busy]').forEach(function (form) {
      form.removeAttribute('aria-busy');
    });
  });
})();
