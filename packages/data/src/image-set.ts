/** A set of same-sized uint8 images with integer labels (CIFAR-10: 32×32×3, HWC). */
export interface ImageSet {
  /** count × height × width × channels bytes, HWC per image, images back to back. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

/** Bytes of one image: the set's image buffer divided by its count. */
export function imageBytes(set: ImageSet): number {
  if (set.count <= 0) throw new RangeError('ImageSet.count must be positive');
  const bytes = set.images.length / set.count;
  if (!Number.isInteger(bytes)) throw new RangeError(`ImageSet.images length ${set.images.length} is not a multiple of count ${set.count}`);
  return bytes;
}

/** Checks the invariants every consumer relies on; throws naming the field. */
export function checkImageSet(set: ImageSet, name = 'ImageSet'): void {
  if (!Number.isInteger(set.count) || set.count < 0) throw new RangeError(`${name}.count must be a non-negative integer, got ${set.count}`);
  if (set.labels.length !== set.count) throw new RangeError(`${name}.labels has ${set.labels.length} entries, expected count = ${set.count}`);
  if (set.count > 0 && set.images.length % set.count !== 0) {
    throw new RangeError(`${name}.images length ${set.images.length} is not a multiple of count ${set.count}`);
  }
}

/** A new ImageSet holding copies of the images at `indices`, in that order. */
export function selectImages(set: ImageSet, indices: ArrayLike<number>): ImageSet {
  checkImageSet(set);
  const count = indices.length;
  const stride = set.count > 0 ? set.images.length / set.count : 0;
  const images = new Uint8Array(count * stride);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const src = indices[i];
    if (!Number.isInteger(src) || src < 0 || src >= set.count) throw new RangeError(`index ${src} out of range [0, ${set.count})`);
    images.set(set.images.subarray(src * stride, (src + 1) * stride), i * stride);
    labels[i] = set.labels[src];
  }
  return { images, labels, count };
}
