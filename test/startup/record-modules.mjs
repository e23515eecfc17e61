// Preload for test/startup (node --import): records every module the process loads, so a test
// can assert which npm packages `serve` pulled in. ESM resolutions go through a module.register
// resolve hook (it runs on the loader thread and appends to the file itself); CommonJS modules,
// including those an ESM import reached, are listed from the require cache at exit.
import { appendFileSync } from 'node:fs';
import Module, { register } from 'node:module';

const out = process.env.AI_RELAY_MODULE_LOG;
if (out) {
  const hooks = `
    import { appendFileSync } from 'node:fs';
    export async function resolve(specifier, context, next) {
      const r = await next(specifier, context);
      if (r.url.startsWith('file:')) appendFileSync(${JSON.stringify(out)}, r.url + '\\n');
      return r;
    }`;
  register(`data:text/javascript,${encodeURIComponent(hooks)}`);
  process.on('exit', () => {
    appendFileSync(out, Object.keys(Module._cache).map((f) => `${f}\n`).join(''));
  });
}
