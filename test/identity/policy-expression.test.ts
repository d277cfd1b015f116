import { PolicyExpressionError, POLICY_LIMITS, parsePolicy } from '../../src/identity';

const subject = { role: 'db', team: 'ops', relay: '*' };
const resource = { env: 'prod' };

function parseError(source: string): PolicyExpressionError {
  try {
    parsePolicy(source);
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyExpressionError);
    return error as PolicyExpressionError;
  }
  throw new Error(`expected ${source} not to parse`);
}

describe('parsePolicy', () => {
  it.each([
    ['(and (= subject.role "db") (= resource.env "prod"))', true],
    ['(and (= subject.role "db") (= resource.env "dev"))', false],
    ['(or (= subject.role "web") (= subject.team "ops"))', true],
    ['(not (= subject.role "db"))', false],
    ['(!= subject.role "web")', true],
    ['(member? subject.team ["ops" "sre"])', true],
    ['(member? subject.team ["dev"])', false],
    ['(exists? subject.relay)', true],
    ['(exists? subject.missing)', false],
    ['(= subject.missing subject.missing)', false],
    ['(!= subject.missing "x")', false],
    ['(= subject.constructor "x")', false],
    ['(= subject.relay "*")', true],
    ['true', true],
    ['false', false],
    ['(and true (or false (= "a\\"b" "a\\"b")))', true],
  ])('%s is %s', (source, expected) => {
    expect(parsePolicy(source).evaluate({ subject, resource })).toBe(expected);
  });

  it.each([
    ['(and (= subject.role "db") (= resource.env "prod")', 'SYNTAX', 50, ''],
    ['(nad (= subject.role "db"))', 'UNKNOWN_OPERATOR', 1, 'nad'],
    ['(= subjct.role "db")', 'UNKNOWN_NAME', 3, 'subjct.role'],
    ['(= subject. "db")', 'UNKNOWN_NAME', 3, 'subject.'],
    ['(= subject.role "db" "x")', 'ARITY', 1, '='],
    ['(and)', 'ARITY', 1, 'and'],
    ['(not true false)', 'ARITY', 1, 'not'],
    ['(= subject.role "db)', 'SYNTAX', 16, '"db)'],
    ['(member? subject.role "db")', 'SYNTAX', 22, '"db"'],
    ['(= subject.role db)', 'UNKNOWN_NAME', 16, 'db'],
    ['(and true) extra', 'SYNTAX', 11, 'extra'],
    [')', 'SYNTAX', 0, ')'],
    ['', 'SYNTAX', 0, ''],
    ['(= "a\\n" "b")', 'SYNTAX', 5, '\\n'],
  ])('%s is refused with %s at offset %d (token %s)', (source, code, position, token) => {
    const error = parseError(source);
    expect(error).toMatchObject({ code, position, token });
    expect(error.message).toContain(String(position));
  });

  it('shows where the bad token is in its message', () => {
    const error = parseError('(and (= subject.role "db") (== resource.env "prod"))');
    expect(error.message).toBe('unknown operator "==" at offset 28 (and, or, not, =, !=, member?, exists?)');
    expect(parseError('(and (= subject.role "db") (= resource.env prod))').message).toContain('"prod"');
    expect(parseError('(and (= subject.role "db") true').message).toMatch(
      /ends where \) to close \(and was expected/,
    );
  });

  it('bounds the length, nesting and size of a policy', () => {
    expect(parseError('x'.repeat(POLICY_LIMITS.maxLength + 1)).code).toBe('TOO_LARGE');
    expect(
      parseError('(not '.repeat(POLICY_LIMITS.maxDepth + 2) + 'true' + ')'.repeat(POLICY_LIMITS.maxDepth + 2))
        .code,
    ).toBe('TOO_LARGE');
    expect(parseError(`(and ${'true '.repeat(POLICY_LIMITS.maxNodes + 1)})`).code).toBe('TOO_LARGE');
    // Within the bounds it parses.
    expect(
      parsePolicy(
        '(not '.repeat(POLICY_LIMITS.maxDepth) + 'false' + ')'.repeat(POLICY_LIMITS.maxDepth),
      ).evaluate({ subject }),
    ).toBe(POLICY_LIMITS.maxDepth % 2 === 1);
  });
});
