/**
 * A small unpickler for what PyTorch checkpoints contain (protocols 2–4): dicts, lists, tuples, strings,
 * numbers, globals, REDUCE/BUILD and persistent ids. Python objects map to JS values:
 *   None → null, bool/int/float → boolean/number (ints beyond 2^53 → bigint), str → string,
 *   bytes → Uint8Array, list/tuple → array, dict → Map, class → PickleGlobal,
 *   call of a class the caller does not handle → PickleObject (opaque, keeps args and BUILD state).
 */
export interface PickleGlobal {
  kind: 'global';
  module: string;
  name: string;
}

export interface PickleObject {
  kind: 'object';
  cls: PickleGlobal;
  args: unknown[];
  state?: unknown;
}

export interface UnpickleOptions {
  /** Where the bytes came from, for error messages. */
  source?: string;
  /** Byte offset where the pickle starts (several pickles may follow each other). */
  offset?: number;
  /** Turns a call `module.name(*args)` into a value; return undefined to keep an opaque PickleObject. */
  call?: (cls: PickleGlobal, args: unknown[]) => unknown;
  /** Resolves BINPERSID / PERSID references. */
  persistentLoad?: (pid: unknown) => unknown;
}

export function isPickleGlobal(v: unknown): v is PickleGlobal {
  return typeof v === 'object' && v !== null && (v as PickleGlobal).kind === 'global';
}

export function isPickleObject(v: unknown): v is PickleObject {
  return typeof v === 'object' && v !== null && (v as PickleObject).kind === 'object';
}

const OPCODE_NAMES: Record<number, string> = {
  0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x92: 'NEWOBJ_EX', 0x96: 'BYTEARRAY8',
  0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER', 0x49: 'INT', 0x4c: 'LONG', 0x46: 'FLOAT', 0x53: 'STRING',
  0x56: 'UNICODE', 0x50: 'PERSID', 0x67: 'GET', 0x70: 'PUT', 0x69: 'INST', 0x6f: 'OBJ', 0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS', 0x91: 'FROZENSET',
};

/** Unpickle one pickle starting at `offset`; returns the value and the offset just after its STOP. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions = {}): { value: unknown; end: number } {
  const source = options.source ?? '<buffer>';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new TextDecoder();
  let pos = options.offset ?? 0;
  const stack: unknown[] = [];
  const metaStack: unknown[][] = [];
  let current = stack;
  const memo = new Map<number, unknown>();

  const fail = (why: string): never => {
    throw new Error(`unpickling ${source} at byte ${pos}: ${why}`);
  };
  const need = (n: number) => {
    if (pos + n > bytes.byteLength) fail(`truncated (needs ${n} more bytes, file has ${bytes.byteLength - pos})`);
  };
  const u8 = () => { need(1); return bytes[pos++]; };
  const u16 = () => { need(2); const v = view.getUint16(pos, true); pos += 2; return v; };
  const u32 = () => { need(4); const v = view.getUint32(pos, true); pos += 4; return v; };
  const i32 = () => { need(4); const v = view.getInt32(pos, true); pos += 4; return v; };
  const take = (n: number) => { need(n); const b = bytes.subarray(pos, pos + n); pos += n; return b; };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('unterminated text line');
    const s = decoder.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = () => {
    if (current.length === 0) fail('stack underflow');
    return current.pop();
  };
  const top = () => {
    if (current.length === 0) fail('stack underflow');
    return current[current.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = current;
    const previous = metaStack.pop();
    if (!previous) fail('MARK expected but the mark stack is empty');
    current = previous!;
    return items;
  };
  const makeGlobal = (module: string, name: string): PickleGlobal => ({ kind: 'global', module, name });
  const callGlobal = (callable: unknown, args: unknown[]): unknown => {
    if (!isPickleGlobal(callable)) fail(`REDUCE on a non-class value (${typeof callable})`);
    const cls = callable as PickleGlobal;
    const result = options.call?.(cls, args);
    if (result !== undefined) return result;
    if (cls.module === 'collections' && cls.name === 'OrderedDict') return new Map();
    if (cls.module === 'builtins' && (cls.name === 'set' || cls.name === 'frozenset')) return new Set((args[0] as unknown[]) ?? []);
    const obj: PickleObject = { kind: 'object', cls, args };
    return obj;
  };
  const setItem = (target: unknown, key: unknown, value: unknown) => {
    if (target instanceof Map) target.set(key, value);
    else fail('SETITEM on a value that is not a dict');
  };
  const readLong = (n: number): number | bigint => {
    if (n === 0) return 0;
    const b = take(n);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };

  for (;;) {
    const at = pos;
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: take(8); break; // FRAME (length; frames are read inline)
      case 0x2e: { // STOP
        const value = pop();
        return { value, end: pos };
      }
      case 0x28: metaStack.push(current); current = []; break; // MARK
      case 0x7d: current.push(new Map()); break; // EMPTY_DICT
      case 0x5d: current.push([]); break; // EMPTY_LIST
      case 0x29: current.push([]); break; // EMPTY_TUPLE
      case 0x8f: current.push(new Set()); break; // EMPTY_SET
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET, LONG_BINGET
        const key = op === 0x68 ? u8() : u32();
        if (!memo.has(key)) fail(`memo key ${key} not found`);
        current.push(memo.get(key));
        break;
      }
      case 0x58: current.push(decoder.decode(take(u32()))); break; // BINUNICODE
      case 0x8c: current.push(decoder.decode(take(u8()))); break; // SHORT_BINUNICODE
      case 0x8d: { // BINUNICODE8
        need(8);
        const n = Number(view.getBigUint64(pos, true));
        pos += 8;
        current.push(decoder.decode(take(n)));
        break;
      }
      case 0x54: current.push(new TextDecoder('latin1').decode(take(i32()))); break; // BINSTRING
      case 0x55: current.push(new TextDecoder('latin1').decode(take(u8()))); break; // SHORT_BINSTRING
      case 0x42: current.push(take(u32()).slice()); break; // BINBYTES
      case 0x43: current.push(take(u8()).slice()); break; // SHORT_BINBYTES
      case 0x63: { // GLOBAL
        const module = line();
        current.push(makeGlobal(module, line()));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        current.push(makeGlobal(module as string, name as string));
        break;
      }
      case 0x85: current.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); current.push([a, b]); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); current.push([a, b, c]); break; } // TUPLE3
      case 0x74: { const items = popMark(); current.push(items); break; } // TUPLE
      case 0x6c: { const items = popMark(); current.push(items); break; } // LIST
      case 0x64: { // DICT
        const items = popMark();
        const d = new Map();
        for (let i = 0; i + 1 < items.length; i += 2) d.set(items[i], items[i + 1]);
        current.push(d);
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const callable = pop();
        current.push(callGlobal(callable, Array.isArray(args) ? args : [args]));
        break;
      }
      case 0x81: { // NEWOBJ: cls.__new__(cls, *args)
        const args = pop();
        const cls = pop();
        current.push(callGlobal(cls, Array.isArray(args) ? args : [args]));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const target = top();
        if (isPickleObject(target)) target.state = state;
        // BUILD on dicts/tensors carries Python attributes (e.g. OrderedDict._metadata, tensor hooks): ignored.
        break;
      }
      case 0x73: { const value = pop(); const key = pop(); setItem(top(), key, value); break; } // SETITEM
      case 0x75: { // SETITEMS
        const items = popMark();
        const target = top();
        for (let i = 0; i + 1 < items.length; i += 2) setItem(target, items[i], items[i + 1]);
        break;
      }
      case 0x61: { const value = pop(); const list = top(); if (!Array.isArray(list)) fail('APPEND to a non-list'); (list as unknown[]).push(value); break; }
      case 0x65: { // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list)) fail('APPENDS to a non-list');
        (list as unknown[]).push(...items);
        break;
      }
      case 0x90: { // ADDITEMS
        const items = popMark();
        const set = top();
        if (!(set instanceof Set)) fail('ADDITEMS to a non-set');
        for (const item of items) (set as Set<unknown>).add(item);
        break;
      }
      case 0x4a: current.push(i32()); break; // BININT
      case 0x4b: current.push(u8()); break; // BININT1
      case 0x4d: current.push(u16()); break; // BININT2
      case 0x8a: current.push(readLong(u8())); break; // LONG1
      case 0x8b: current.push(readLong(u32())); break; // LONG4
      case 0x47: { need(8); current.push(view.getFloat64(pos, false)); pos += 8; break; } // BINFLOAT (big-endian)
      case 0x4e: current.push(null); break; // NONE
      case 0x88: current.push(true); break; // NEWTRUE
      case 0x89: current.push(false); break; // NEWFALSE
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!options.persistentLoad) fail('persistent id found but no persistentLoad handler given');
        current.push(options.persistentLoad!(pid));
        break;
      }
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: current.push(top()); break; // DUP
      default: {
        const name = OPCODE_NAMES[op] ?? `0x${op.toString(16).padStart(2, '0')}`;
        pos = at;
        fail(`unsupported pickle opcode ${name} (byte 0x${op.toString(16).padStart(2, '0')})`);
      }
    }
  }
}
