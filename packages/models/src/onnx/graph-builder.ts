import type { ProtoInt } from './protobuf.js';
import {
  floatTensor,
  int64Tensor,
  type AttributeProto,
  type GraphProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from './onnx-proto.js';

/** Accumulates nodes and initializers of one ONNX graph; node names are made unique by a counter. */
export class OnnxGraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly initializerNames = new Set<string>();
  private counter = 0;

  constructor(readonly name: string) {}

  addInitializer(tensor: TensorProto): string {
    if (this.initializerNames.has(tensor.name)) throw new Error(`duplicate ONNX initializer name ${tensor.name}`);
    this.initializerNames.add(tensor.name);
    this.initializers.push(tensor);
    return tensor.name;
  }

  addFloat(name: string, dims: number[], values: Float32Array): string {
    return this.addInitializer(floatTensor(name, dims, values));
  }

  addInt64(name: string, values: ReadonlyArray<ProtoInt>): string {
    return this.addInitializer(int64Tensor(name, [values.length], values));
  }

  /** Adds a node with one output; returns the output's name (`outputName`, or `<nodeName>_out`). */
  node(opType: string, nodeName: string, inputs: string[], attributes: AttributeProto[] = [], outputName?: string): string {
    const output = outputName ?? `${nodeName}_out`;
    this.counter++;
    this.nodes.push({ name: nodeName || `${opType}_${this.counter}`, opType, inputs, outputs: [output], attributes });
    return output;
  }

  build(inputs: ValueInfoProto[], outputs: ValueInfoProto[]): GraphProto {
    return { name: this.name, nodes: this.nodes, initializers: this.initializers, inputs, outputs };
  }
}

export const intAttr = (name: string, value: ProtoInt): AttributeProto => ({ name, type: 'int', value });
export const intsAttr = (name: string, value: ProtoInt[]): AttributeProto => ({ name, type: 'ints', value });
export const floatAttr = (name: string, value: number): AttributeProto => ({ name, type: 'float', value });
export const stringAttr = (name: string, value: string): AttributeProto => ({ name, type: 'string', value });
