/** ONNX export (protobuf encoder, per-family exporters) and onnxruntime-node runner. */
import './resnet-cifar-exporter.js'; // registers the 'resnet-cifar' exporter
import './bert-exporter.js'; // registers the 'bert' exporter

export { ProtoWriter, type ProtoInt } from './protobuf.js';
export {
  OnnxDataType,
  OnnxAttributeType,
  encodeModel,
  encodeGraph,
  encodeNode,
  encodeAttribute,
  encodeTensor,
  encodeValueInfo,
  floatTensor,
  int64Tensor,
  irVersionForOpset,
  type ModelProto,
  type GraphProto,
  type NodeProto,
  type AttributeProto,
  type TensorProto,
  type ValueInfoProto,
  type OnnxDim,
} from './onnx-proto.js';
export { OnnxGraphBuilder } from './graph-builder.js';
export {
  exportOnnx,
  registerOnnxExporter,
  onnxExporterFamilies,
  saveOnnx,
  type OnnxExportOptions,
  type ResolvedOnnxExportOptions,
  type OnnxExporter,
} from './export.js';
export { exportResNetCifarOnnx } from './resnet-cifar-exporter.js';
export { exportBertOnnx } from './bert-exporter.js';
export { hwioToOihw } from './tensor-data.js';
export {
  OnnxRunner,
  checkOnnxProvider,
  nhwcToNchw,
  type OnnxProvider,
  type OnnxRunnerOptions,
  type OnnxRunnerInfo,
} from './runner.js';
export {
  evaluateOnnxClassifier,
  normalisedImageBatches,
  type NhwcClassifierBatch,
  type OnnxClassifierEvaluation,
} from './evaluate.js';
export { decodeModel } from './onnx-decode.js';
export {
  quantizeOnnx,
  buildQdqModel,
  calibrateActivations,
  qdqCalibrationTensors,
  quantizeWeightPerChannel,
  uint8Params,
  ortOptimizedOperators,
  type CalibrationMethod,
  type QuantizeOnnxOptions,
  type ActivationRange,
  type QuantizedWeight,
  type QuantizedActivation,
  type QuantizedOnnx,
} from './qdq.js';
export { onnxFeed, OnnxLogitsSession, type OnnxFeed } from './feeds.js';
export { runOnnxInTfjs } from './tfjs-executor.js';
export { runQdqReference } from './qdq-reference.js';
