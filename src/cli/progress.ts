/**
 * A progress bar for long CLI runs. On a terminal it redraws one line; otherwise (CI, pipes, logs) it
 * prints a line at every 10 %, so output stays readable in a file.
 */
export interface Progress {
  tick(count?: number): void;
  done(): void;
}

export function createProgress(options: {
  total: number;
  label: string;
  stream: NodeJS.WritableStream & { isTTY?: boolean };
}): Progress {
  const { total, label, stream } = options;
  let current = 0;
  let lastDecile = -1;
  const width = 30;
  const render = () => {
    const ratio = total === 0 ? 1 : Math.min(1, current / total);
    if (stream.isTTY) {
      const filled = Math.round(ratio * width);
      stream.write(
        `\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${Math.floor(ratio * 100)}% ${current}/${total}`,
      );
      return;
    }
    const decile = Math.floor(ratio * 10);
    if (decile !== lastDecile) {
      lastDecile = decile;
      stream.write(`${label}: ${current}/${total} (${decile * 10}%)\n`);
    }
  };
  return {
    tick(count = 1) {
      current += count;
      render();
    },
    done() {
      current = Math.max(current, total);
      render();
      if (stream.isTTY) stream.write('\n');
    },
  };
}
