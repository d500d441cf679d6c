/**
 * The CIFAR-10 binary layout (https://www.cs.toronto.edu/~kriz/cifar.html, "binary version"), the
 * official archive, and the checks a folder must pass. datasets/cifar10.json records the same facts
 * for people and tools; a test keeps the two in step.
 */
export const CIFAR10_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';
export const CIFAR10_MD5 = 'c32a1d4ab5d03f1284b67883e8d87530';
export const CIFAR10_ARCHIVE_BYTES = 170_052_171;
/** The folder the archive unpacks into. */
export const CIFAR10_ARCHIVE_ROOT = 'cifar-10-batches-bin';

export const CIFAR10_HEIGHT = 32;
export const CIFAR10_WIDTH = 32;
export const CIFAR10_CHANNELS = 3;
export const CIFAR10_PIXELS = CIFAR10_HEIGHT * CIFAR10_WIDTH;
export const CIFAR10_IMAGE_BYTES = CIFAR10_PIXELS * CIFAR10_CHANNELS;
/** One label byte, then 1024 R, 1024 G, 1024 B bytes (row-major 32×32 planes). */
export const CIFAR10_RECORD_BYTES = 1 + CIFAR10_IMAGE_BYTES;
export const CIFAR10_RECORDS_PER_BATCH = 10_000;
export const CIFAR10_NUM_CLASSES = 10;

export const CIFAR10_TRAIN_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'];
export const CIFAR10_TEST_FILE = 'test_batch.bin';
export const CIFAR10_META_FILE = 'batches.meta.txt';
export const CIFAR10_BATCH_FILES = [...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE];

export const CIFAR10_CLASS_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/** Per-channel (R, G, B) normalisation the pretrained ResNet-CIFAR weights expect, applied to x/255. */
export const CIFAR10_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const CIFAR10_STD: [number, number, number] = [0.229, 0.224, 0.225];
