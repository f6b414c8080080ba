import { createLogger, redactLine } from '../../src/shared/logger';

/** The first layer of log redaction: fields with a known name, wherever they are in a finished line. */
describe('log lines: fields with secret names', () => {
  const line = (value: unknown) => `${JSON.stringify(value)}\n`;
  const written = (write: (logger: ReturnType<typeof createLogger>) => void): unknown[] => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (text: string) => lines.push(text) } });
    write(logger);
    return lines.map((text) => JSON.parse(text) as unknown);
  };

  it('when a line names no such field, then it is written as it came', () => {
    const text = line({ level: 30, req: { id: 'a', method: 'GET', path: '/account' }, msg: 'request completed' });
    expect(redactLine(text)).toBe(text);
  });

  it('when such fields sit at any depth or in arrays, then each value is replaced, objects whole', () => {
    const redacted = JSON.parse(
      redactLine(
        line({
          token: 'IGAA1',
          a: { b: { c: { d: { access_token: 'deep', keep: 1 } } } },
          list: [{ code: 'x' }, { state: { nested: true } }],
          msg: 'kept',
        }),
      ),
    ) as unknown;
    expect(redacted).toEqual({
      token: '[redacted]',
      a: { b: { c: { d: { access_token: '[redacted]', keep: 1 } } } },
      list: [{ code: '[redacted]' }, { state: '[redacted]' }],
      msg: 'kept',
    });
  });

  it('when a message only mentions such a name, then the message is left alone', () => {
    const text = line({ msg: 'the "code": parameter was missing', detail: 'code=' });
    expect(redactLine(text)).toBe(text);
  });

  it('when a line is not JSON, then a named field with a plain value is still replaced', () => {
    expect(redactLine('{"password":"hunter2", broken\n')).toBe('{"password":"[redacted]", broken\n');
  });

  it('when the logger writes such fields from a call, an error or a child, then none reaches the line', () => {
    const error = Object.assign(new Error('refused'), { code: 'E_SECRET_CODE' });
    const [call, failure, child] = written((logger) => {
      logger.info({ accessToken: 'IGAA-call', nested: { deeper: { clientSecret: 'shh' } } }, 'call');
      logger.error({ err: error }, 'failure');
      logger.child({ authorization: 'Bearer abc' }).info('child');
    });
    expect(call).toMatchObject({ accessToken: '[redacted]', nested: { deeper: { clientSecret: '[redacted]' } } });
    expect(failure).toMatchObject({ err: { code: '[redacted]', message: 'refused' } });
    expect(child).toMatchObject({ authorization: '[redacted]', msg: 'child' });
  });
});
