// Child process of `prunebench doctor`: starts one tfjs backend or one ONNX Runtime provider and prints one line
// `PRUNEBENCH_PROBE <json>`. tfjs is a process-wide singleton and a native provider can hang or crash, so each
// probe gets its own process, which the doctor times out and kills.
import { BACKEND_NAMES, initEngine, type BackendName } from '@prunebench/engine';
import { EXECUTION_PROVIDERS, latencyToolVersions, probeExecutionProvider, type ExecutionProvider } from '@prunebench/metrics';
import { PROBE_MARKER, type ProbeResult } from './doctor.js';

async function probe(kind: string, name: string): Promise<ProbeResult> {
  if (kind === 'tfjs' && (BACKEND_NAMES as readonly string[]).includes(name)) {
    try {
      const info = await initEngine({ backend: name as BackendName });
      return {
        ok: true,
        detail: info.device,
        ...(info.adapter ? { software: info.adapter.software } : {}),
        version: info.versions.backendPackage,
        ...(info.threads !== undefined ? { threads: info.threads } : {}),
      };
    } catch (error) {
      return { ok: false, detail: (error as Error).message.replace(/^backend '[a-z]+' could not start: /, '') };
    }
  }
  if (kind === 'ort' && (EXECUTION_PROVIDERS as readonly string[]).includes(name)) {
    const version = `onnxruntime-node@${latencyToolVersions().onnxruntimeNode}`;
    const result = await probeExecutionProvider(name as ExecutionProvider);
    return result.ok ? { ok: true, detail: result.device, software: result.software, version } : { ok: false, detail: result.reason, version };
  }
  return { ok: false, detail: `unknown probe "${kind} ${name}"` };
}

const [kind, name] = process.argv.slice(2);
const result = await probe(kind ?? '', name ?? '');
process.stdout.write(`\n${PROBE_MARKER}${JSON.stringify(result)}\n`);
// Native threads (wasm workers, Dawn) can keep the process alive; the answer is out.
process.exit(0);
