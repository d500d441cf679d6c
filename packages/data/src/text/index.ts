export * from './vocab.js';
export * from './basic-tokenizer.js';
export * from './wordpiece-tokenizer.js';
export * from './bert-tokenizer.js';
