import ts from 'typescript';
import * as sealroute from '../../src';
import { DiError } from '../../src';

/** Compiles `source` with `compilerOptions` and runs it with `sealroute` as its only importable module. */
function compileAndRun(source: string, compilerOptions: ts.CompilerOptions): unknown {
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, ...compilerOptions },
  });
  const module = { exports: {} as Record<string, unknown> };
  const requireSealroute = (name: string): unknown => {
    if (name !== 'sealroute') throw new Error(`unexpected import ${name}`);
    return sealroute;
  };
  new Function('require', 'module', 'exports', outputText)(requireSealroute, module, module.exports);
  return module.exports;
}

const APP = `
  import { Worker, Node, injectable } from 'sealroute';
  @injectable() class Shouter {}
  @Worker({ address: 'echoer' })
  export class Echoer { constructor(readonly shouter: Shouter) {} handleMessage() {} }
  @Node() export class App { main() {} }
`;

describe('decorator compiler settings', () => {
  it('fails when a class is defined if it was compiled without experimentalDecorators (standard decorators)', () => {
    let error: unknown;
    try {
      compileAndRun(APP.replace('@injectable() class Shouter {}', 'class Shouter {}'), {
        experimentalDecorators: false,
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(DiError);
    expect(error).toMatchObject({ code: 'NO_PARAM_TYPES' });
    expect((error as Error).message).toMatch(/@Worker\(\) on Echoer was compiled as a standard decorator/);
    expect((error as Error).message).toContain('"experimentalDecorators"');
  });

  it('records parameter types with experimentalDecorators and emitDecoratorMetadata', () => {
    const { Echoer } = compileAndRun(APP, { experimentalDecorators: true, emitDecoratorMetadata: true }) as {
      Echoer: object;
    };
    expect(Reflect.getMetadata('design:paramtypes', Echoer)).toHaveLength(1);
  });
});
