import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BACKEND_NAMES } from '@prunebench/engine';
import { EXECUTION_PROVIDERS } from '@prunebench/metrics';
import { EXIT_OK, UsageError, parseFlags, type CliIO } from '../usage.js';

export const DOCTOR_HELP = `Usage: prunebench doctor [--json] [--timeout <seconds>]

Prints what starts on this machine: each tfjs backend (${BACKEND_NAMES.join(', ')}) for training and each
ONNX Runtime execution provider (${EXECUTION_PROVIDERS.join(', ')}) for latency, with the device, adapter or CPU it
runs on (software WebGPU adapters such as llvmpipe/lavapipe or SwiftShader are labelled: they run on the CPU),
its package and version, and for each one that does not start, why (cuda/tensorrt: what to install). Each one
is tried in its own child process, killed after the timeout.

Options:
  --json               one JSON object instead of the table
  --timeout <seconds>  per probe (default 90)
  -h, --help           this help

Exit code 0 when the report is printed, whatever starts; 2 on a usage error.
`;

/** The marker before a probe's JSON line on stdout (backends may print their own lines around it). */
export const PROBE_MARKER = 'PRUNEBENCH_PROBE ';

/** What one probe answers (doctor-probe.ts). */
export interface ProbeResult {
  ok: boolean;
  /** The device or adapter it runs on (ok), else why it did not start. */
  detail: string;
  /** A software adapter (webgpu): runs on the CPU. */
  software?: boolean;
  /** The package (and version) that provides it. */
  version?: string;
  threads?: number;
}

export interface DoctorEntry extends ProbeResult {
  kind: 'tfjs' | 'ort';
  name: string;
  seconds: number;
}

export interface DoctorReport {
  node: string;
  platform: string;
  cpu: string;
  /** Environment variables that change what starts (Vulkan driver lists, backend and thread choices), as set. */
  environment: Record<string, string>;
  tfjs: DoctorEntry[];
  onnxruntime: DoctorEntry[];
}

const RELEVANT_ENVIRONMENT = ['VK_ICD_FILENAMES', 'VK_DRIVER_FILES', 'PRUNEBENCH_BACKEND', 'PRUNEBENCH_WASM_THREADS', 'ONNXRUNTIME_NODE_INSTALL', 'CUDA_VISIBLE_DEVICES'];
const PROBE_SCRIPT = fileURLToPath(new URL(`./doctor-probe${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));
const PROBE_CONCURRENCY = 2;

export async function doctorCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags('doctor', args, { json: { type: 'boolean' }, timeout: { type: 'string' } });
  if (values.help) return io.out(DOCTOR_HELP), EXIT_OK;
  if (positionals.length > 0) throw new UsageError(`doctor: takes no arguments, got "${positionals.join(' ')}"`);
  const timeoutSeconds = values.timeout === undefined ? 90 : Number(values.timeout);
  if (!(Number.isFinite(timeoutSeconds) && timeoutSeconds > 0)) throw new UsageError(`doctor: --timeout must be a positive number of seconds, got "${values.timeout}"`);
  if (!values.json) io.err('prunebench doctor: trying each backend and provider in a child process...\n');
  const report = await runDoctor(timeoutSeconds * 1000);
  io.out(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatDoctorReport(report));
  return EXIT_OK;
}

/** Probes every tfjs backend and ONNX Runtime provider, each in a child process with a timeout. */
export async function runDoctor(timeoutMs: number): Promise<DoctorReport> {
  const jobs = [
    ...BACKEND_NAMES.map((name) => ({ kind: 'tfjs' as const, name })),
    ...EXECUTION_PROVIDERS.map((name) => ({ kind: 'ort' as const, name })),
  ];
  const entries: DoctorEntry[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const index = next++;
      const started = Date.now();
      const result = await probeInChild(jobs[index].kind, jobs[index].name, timeoutMs);
      entries[index] = { ...jobs[index], ...result, seconds: (Date.now() - started) / 1000 };
    }
  };
  await Promise.all(Array.from({ length: PROBE_CONCURRENCY }, worker));
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpu: `${os.cpus()[0]?.model?.trim() ?? 'unknown CPU'} (${os.cpus().length} logical cores)`,
    environment: Object.fromEntries(RELEVANT_ENVIRONMENT.flatMap((name) => (process.env[name] !== undefined ? [[name, process.env[name]!]] : []))),
    tfjs: entries.filter((e) => e.kind === 'tfjs'),
    onnxruntime: entries.filter((e) => e.kind === 'ort'),
  };
}

function probeInChild(kind: 'tfjs' | 'ort', name: string, timeoutMs: number): Promise<ProbeResult> {
  const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', tsxLoader, PROBE_SCRIPT, kind, name], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ ok: false, detail: `the probe process did not start: ${error.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith(PROBE_MARKER));
      if (line) {
        try {
          resolve(JSON.parse(line.slice(PROBE_MARKER.length)) as ProbeResult);
          return;
        } catch {
          // fall through: report the raw output
        }
      }
      const lastError = stderr.split('\n').map((l) => l.trim()).filter((l) => l.length > 0 && !/^\s*at /.test(l)).slice(-1)[0];
      resolve({
        ok: false,
        detail: timedOut
          ? `did not answer within ${timeoutMs / 1000} s (killed)`
          : `the probe process ended (${signal ? `signal ${signal}` : `exit code ${code}`}) without an answer${lastError ? `: ${lastError}` : ''}`,
      });
    });
  });
}

export function formatDoctorReport(report: DoctorReport): string {
  const lines = [`prunebench doctor: node ${report.node}, ${report.platform}, ${report.cpu}`];
  const env = Object.entries(report.environment);
  if (env.length > 0) lines.push(`environment: ${env.map(([k, v]) => `${k}=${v}`).join(' ')}`);
  const width = Math.max(...[...report.tfjs, ...report.onnxruntime].map((e) => e.name.length));
  const section = (title: string, entries: DoctorEntry[]) => {
    lines.push('', title);
    for (const e of entries) {
      const status = e.ok ? 'starts ' : 'fails  ';
      const what = e.ok
        ? `${e.detail}${e.software && !/software/i.test(e.detail) ? ' (software adapter)' : ''}${e.threads !== undefined ? `, ${e.threads} thread${e.threads === 1 ? '' : 's'}` : ''}${e.version ? ` [${e.version}]` : ''}`
        : e.detail;
      lines.push(`  ${e.name.padEnd(width)}  ${status} ${what}`);
    }
  };
  section('tfjs backends (training; prunebench run --backend <name>):', report.tfjs);
  section('ONNX Runtime execution providers (latency; a suite\'s "latency": { "providers": [...] }):', report.onnxruntime);
  const software = [...report.tfjs, ...report.onnxruntime].some((e) => e.ok && e.software);
  if (software) lines.push('', 'A software adapter is a CPU rasterizer posing as a GPU: right for correctness, never a GPU speed figure.');
  return `${lines.join('\n')}\n`;
}
