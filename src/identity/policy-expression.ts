/**
 * A small boolean expression language over attributes, in the spirit of Ockam's ABAC policies:
 *
 *   (and (= subject.role "db") (= resource.env "prod"))
 *   (or (= subject.relay "*") (member? subject.team ["ops" "sre"]))
 *   (not (exists? subject.suspended))
 *
 * Parsed once into a closure; every parse or type error names the offending token and its offset. The
 * grammar is small on purpose (no arithmetic, no functions, no loops), so that evaluating a policy costs a
 * bounded number of comparisons and a policy can be read at a glance:
 *
 *   expr   = "true" | "false" | "(" op args ")"
 *   op     = "and" | "or" | "not" | "=" | "!=" | "member?" | "exists?"
 *   value  = name | string                 name = ("subject" | "resource") "." key
 *   list   = "[" string* "]"
 *
 * `and` and `or` take one or more expressions, `not` one; `=` and `!=` two values; `member?` a value and a
 * list; `exists?` a name. A name whose attribute is missing equals nothing and differs from nothing: a
 * missing attribute never grants access through `=`, `!=` or `member?` (it does through `not`, which is
 * written out where it is meant).
 */
import { PolicyExpressionError } from './errors';

/** Bounds on a policy's text and shape: a policy may come from a configuration file. */
export const POLICY_LIMITS = Object.freeze({ maxLength: 4096, maxDepth: 32, maxNodes: 512 });

/** What a policy is evaluated against: the attributes of the subject and of the resource. */
export interface PolicyEnvironment {
  readonly subject: Readonly<Record<string, string | undefined>>;
  readonly resource?: Readonly<Record<string, string | undefined>>;
}

/** A parsed policy. */
export interface PolicyExpression {
  /** The text it was parsed from. */
  readonly source: string;
  evaluate(env: PolicyEnvironment): boolean;
}

const NAMESPACES = ['subject', 'resource'] as const;
type Namespace = (typeof NAMESPACES)[number];

type Token =
  | { kind: '(' | ')' | '[' | ']'; text: string; at: number }
  | { kind: 'string'; text: string; value: string; at: number }
  | { kind: 'atom'; text: string; at: number };

type Value = (env: PolicyEnvironment) => string | undefined;
type Test = (env: PolicyEnvironment) => boolean;

/**
 * Parses `source` into a policy. Throws `PolicyExpressionError` (`SYNTAX`, `UNKNOWN_OPERATOR`, `ARITY`,
 * `UNKNOWN_NAME`, `TOO_LARGE`) with the offending token and its offset.
 */
export function parsePolicy(source: string): PolicyExpression {
  if (typeof source !== 'string') throw new PolicyExpressionError('SYNTAX', 'a policy is a string', 0, '');
  if (source.length > POLICY_LIMITS.maxLength) {
    throw new PolicyExpressionError(
      'TOO_LARGE',
      `a policy of ${source.length} characters (at most ${POLICY_LIMITS.maxLength})`,
      POLICY_LIMITS.maxLength,
      '',
    );
  }
  const parser = new Parser(source, tokenize(source));
  const test = parser.expression(0);
  parser.end();
  return { source, evaluate: test };
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(' || c === ')' || c === '[' || c === ']') {
      tokens.push({ kind: c, text: c, at: i++ });
    } else if (c === '"') {
      const start = i++;
      let value = '';
      for (;;) {
        if (i >= source.length)
          throw syntax(source, start, source.slice(start, start + 20), 'unterminated string');
        const d = source[i++]!;
        if (d === '"') break;
        if (d === '\\') {
          const e = source[i++];
          if (e !== '"' && e !== '\\') {
            throw syntax(source, i - 2, source.slice(i - 2, i), 'a string escapes only \\" and \\\\');
          }
          value += e;
        } else value += d;
      }
      tokens.push({ kind: 'string', text: source.slice(start, i), value, at: start });
    } else {
      const start = i;
      while (i < source.length && !/[\s()[\]"]/.test(source[i]!)) i++;
      tokens.push({ kind: 'atom', text: source.slice(start, i), at: start });
    }
    if (tokens.length > POLICY_LIMITS.maxNodes * 2) {
      throw new PolicyExpressionError('TOO_LARGE', 'the policy has too many tokens', i, '');
    }
  }
  return tokens;
}

class Parser {
  private next = 0;
  private nodes = 0;

  constructor(
    private readonly source: string,
    private readonly tokens: Token[],
  ) {}

  /** One boolean expression. */
  expression(depth: number): Test {
    if (depth > POLICY_LIMITS.maxDepth) {
      const token = this.peek();
      throw new PolicyExpressionError(
        'TOO_LARGE',
        `the policy nests deeper than ${POLICY_LIMITS.maxDepth} at offset ${token?.at ?? this.source.length}`,
        token?.at ?? this.source.length,
        token?.text ?? '',
      );
    }
    if (++this.nodes > POLICY_LIMITS.maxNodes) {
      const token = this.peek();
      throw new PolicyExpressionError(
        'TOO_LARGE',
        `the policy has more than ${POLICY_LIMITS.maxNodes} expressions`,
        token?.at ?? 0,
        token?.text ?? '',
      );
    }
    const token = this.take('an expression');
    if (token.kind === 'atom' && (token.text === 'true' || token.text === 'false')) {
      const result = token.text === 'true';
      return () => result;
    }
    if (token.kind !== '(') throw this.unexpected(token, 'an expression: true, false or (operator ...)');
    const op = this.take('an operator');
    if (op.kind !== 'atom') throw this.unexpected(op, 'an operator');
    switch (op.text) {
      case 'and':
      case 'or': {
        const operands: Test[] = [];
        while (this.peek()?.kind !== ')') {
          if (this.peek() === undefined) this.close(op); // throws: the policy ends inside (and ...)
          operands.push(this.expression(depth + 1));
        }
        if (operands.length === 0) throw this.arity(op, 'one or more expressions');
        this.close(op);
        return op.text === 'and'
          ? (env) => operands.every((test) => test(env))
          : (env) => operands.some((test) => test(env));
      }
      case 'not': {
        const operand = this.expression(depth + 1);
        this.close(op);
        return (env) => !operand(env);
      }
      case '=':
      case '!=': {
        const left = this.value();
        const right = this.value();
        this.close(op);
        // A missing attribute compares as neither equal nor different (see the file's comment).
        return op.text === '='
          ? (env) => {
              const a = left(env);
              const b = right(env);
              return a !== undefined && b !== undefined && a === b;
            }
          : (env) => {
              const a = left(env);
              const b = right(env);
              return a !== undefined && b !== undefined && a !== b;
            };
      }
      case 'member?': {
        const item = this.value();
        const list = this.list();
        this.close(op);
        return (env) => {
          const value = item(env);
          return value !== undefined && list.has(value);
        };
      }
      case 'exists?': {
        const nameToken = this.take('a name');
        if (nameToken.kind !== 'atom')
          throw this.unexpected(nameToken, 'a name (subject.<key> or resource.<key>)');
        const name = this.name(nameToken);
        this.close(op);
        return (env) => name(env) !== undefined;
      }
      default:
        throw new PolicyExpressionError(
          'UNKNOWN_OPERATOR',
          `unknown operator ${JSON.stringify(op.text)} at offset ${op.at} (and, or, not, =, !=, member?, exists?)`,
          op.at,
          op.text,
        );
    }
  }

  /** After the last token. */
  end(): void {
    const token = this.peek();
    if (token !== undefined) throw this.unexpected(token, 'the end of the policy');
  }

  private value(): Value {
    const token = this.take('a value');
    if (token.kind === 'string') {
      const value = token.value;
      return () => value;
    }
    if (token.kind === 'atom') return this.name(token);
    throw this.unexpected(token, 'a value: a "string" or a name (subject.<key>, resource.<key>)');
  }

  private list(): Set<string> {
    const open = this.take('a list');
    if (open.kind !== '[') throw this.unexpected(open, 'a list ["a" "b" ...]');
    const items = new Set<string>();
    for (;;) {
      const token = this.take('a string or ]');
      if (token.kind === ']') return items;
      if (token.kind !== 'string') throw this.unexpected(token, 'a "string" or ]');
      if (++this.nodes > POLICY_LIMITS.maxNodes) {
        throw new PolicyExpressionError(
          'TOO_LARGE',
          'the policy has too many list items',
          token.at,
          token.text,
        );
      }
      items.add(token.value);
    }
  }

  private name(token: Token & { kind: 'atom' }): Value {
    const dot = token.text.indexOf('.');
    const namespace = token.text.slice(0, dot) as Namespace;
    const key = token.text.slice(dot + 1);
    if (dot < 0 || !NAMESPACES.includes(namespace) || !/^[A-Za-z][A-Za-z0-9_.-]*$/.test(key)) {
      throw new PolicyExpressionError(
        'UNKNOWN_NAME',
        `unknown name ${JSON.stringify(token.text)} at offset ${token.at} (subject.<key> or resource.<key>)`,
        token.at,
        token.text,
      );
    }
    return (env) => {
      const attributes = env[namespace];
      // Own properties only: `subject.constructor` must not find Object.prototype's.
      return attributes !== undefined && Object.prototype.hasOwnProperty.call(attributes, key)
        ? attributes[key]
        : undefined;
    };
  }

  private close(op: Token): void {
    const token = this.take(`) to close (${op.text}`);
    if (token.kind !== ')')
      throw this.arity(op, `no more operands here (found ${token.text} at offset ${token.at})`);
  }

  private peek(): Token | undefined {
    return this.tokens[this.next];
  }

  private take(expected: string): Token {
    const token = this.tokens[this.next++];
    if (token === undefined) {
      throw syntax(this.source, this.source.length, '', `the policy ends where ${expected} was expected`);
    }
    return token;
  }

  private unexpected(token: Token, expected: string): PolicyExpressionError {
    return syntax(this.source, token.at, token.text, `expected ${expected}, found ${token.text}`);
  }

  private arity(op: Token, expected: string): PolicyExpressionError {
    return new PolicyExpressionError(
      'ARITY',
      `(${op.text} ...) at offset ${op.at} takes ${ARITY[op.text] ?? 'other operands'}: ${expected}`,
      op.at,
      op.text,
    );
  }
}

const ARITY: Record<string, string> = {
  and: 'one or more expressions',
  or: 'one or more expressions',
  not: 'one expression',
  '=': 'two values',
  '!=': 'two values',
  'member?': 'a value and a list',
  'exists?': 'one name',
};

function syntax(source: string, at: number, token: string, message: string): PolicyExpressionError {
  return new PolicyExpressionError('SYNTAX', `${message} at offset ${at}: ${pointAt(source, at)}`, at, token);
}

/** A short excerpt of `source` with a marker at `at`: `...(= subject.role >>>db)`. */
function pointAt(source: string, at: number): string {
  const from = Math.max(0, at - 24);
  return `${from > 0 ? '…' : ''}${source.slice(from, at)}⟶${source.slice(at, at + 24)}`;
}
