// Datasets for evaluation, calibration and training: IDX (MNIST / Fashion-MNIST), NPY/NPZ and
// image folders (one subfolder per class, PNG and JPEG), plus a batch iterator.
//
// Every dataset yields samples as float32 tensors; a batch is [N, ...sample_shape] (NCHW for
// images), with optional int64 labels [N]. Pixel data stored as bytes is scaled to [0, 1]
// (value / 255) and then, when a Normalization is given, to (x - mean[c]) / std[c]. Float
// data (NPY/NPZ f4/f8) is taken as already scaled: only the normalization applies.
//
// Ownership: a Dataset owns its decoded data (IDX and NPY/NPZ are read into memory when
// opened; image folders decode files on each get()). Returned tensors are fresh and owned by
// the caller. Threading: get() is const and may be called from several threads at once;
// a BatchIterator is used by one thread.
// Errors: act::Error naming the file and the problem ("t10k-images-idx3-ubyte.gz: truncated:
// expected 7840000 bytes of pixels, got 1234"); NaN/Inf in float data names file and index.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "act/kernel/tensor.h"

namespace act::host {

// Per-channel affine normalization applied after scaling to [0, 1]. Empty mean/std: none.
// One value applies to every channel; otherwise there must be one value per channel.
struct Normalization {
  std::vector<float> mean;
  std::vector<float> std;

  bool empty() const { return mean.empty() && std.empty(); }
  // Throws act::Error when the sizes do not fit `channels` or a std is not positive.
  void check(std::int64_t channels) const;
  // Normalizes `channels` planes of `plane` floats each, in place.
  void apply(float* data, std::int64_t channels, std::int64_t plane) const;
};

struct Batch {
  Tensor images;                      // f32 [N, ...sample_shape]
  std::optional<Tensor> labels;       // i64 [N] when the dataset has labels
  std::vector<std::int64_t> indices;  // dataset indices of the N samples, in batch order
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual std::int64_t size() const = 0;
  // Shape of one sample without the batch dim, e.g. [1, 28, 28].
  virtual Shape sample_shape() const = 0;
  virtual bool has_labels() const = 0;
  // Class names when the format has them (image folders); empty otherwise.
  virtual std::vector<std::string> class_names() const { return {}; }
  // One line for users: "IDX t10k-images-idx3-ubyte.gz: 10000 x [1, 28, 28], labels".
  virtual std::string describe() const = 0;
  // Samples at `indices` (each in [0, size()), repeats allowed). Throws act::Error naming
  // the file on a bad index or undecodable sample.
  virtual Batch get(std::span<const std::int64_t> indices) const = 0;
};

// Options of every format; fields a format does not use are ignored.
struct DatasetOptions {
  // IDX: labels file (default: the sibling *-labels-idx1-ubyte[.gz] if it exists).
  // NPY: a second .npy holding labels. NPZ: ignored (labels come from the archive).
  std::string labels_path;
  Normalization normalization;
  // NPZ: array names; empty means the first of "x", "images", "data", "inputs" (images)
  // and "y", "labels", "targets" (labels) found in the archive.
  std::string images_key;
  std::string labels_key;
  // Image folders: 1 (grayscale) or 3 (RGB) channels, bilinear resize of the short side to
  // `resize` pixels (0: keep), then a center crop of `crop` x `crop` (0: none). Without
  // resize and crop every image must have the size of the first one.
  int channels = 3;
  int resize = 0;
  int crop = 0;
};

// IDX images (magic 0x00000803, unsigned bytes, [N, H, W]) -> samples [1, H, W]; labels from
// an IDX1 file (0x00000801) with N entries. Gzipped or plain files are both accepted.
std::unique_ptr<Dataset> open_idx(const std::string& images_path,
                                  const DatasetOptions& options = {});
// The labels file that goes with an IDX images file: "x-images-idx3-ubyte[.gz]" ->
// "x-labels-idx1-ubyte[.gz]" (gzipped or not, whichever exists). Empty if none exists.
std::string default_idx_labels_path(const std::string& images_path);

// NPY or NPZ. Images arrays of rank 2 [N, F], 3 [N, H, W] (-> [N, 1, H, W]) or 4 (NCHW;
// NHWC when the last dim is 1 or 3 and dim 1 is not) are accepted; labels must be integer
// [N]. u1 data is scaled by 1/255; i1/i4/i8/f4/f8 are converted to f32 as they are.
std::unique_ptr<Dataset> open_npy(const std::string& path, const DatasetOptions& options = {});

// An image folder: root/<class>/<file>.{png,jpg,jpeg} (case-insensitive extensions; other
// files and hidden entries are ignored). Classes are the sorted subfolder names; their index
// in that order is the label.
std::unique_ptr<Dataset> open_image_folder(const std::string& root,
                                           const DatasetOptions& options = {});

// Picks the format from the path: a directory is an image folder, *.npy / *.npz are NumPy,
// anything else is read as IDX.
std::unique_ptr<Dataset> open_dataset(const std::string& path, const DatasetOptions& options = {});

// ---- NumPy files (also used to write model outputs)

// Reads a .npy (format versions 1, 2 and 3). Supported dtypes: <f4 <f8 |u1 |i1 <i4 <i8 (and
// |b1), little-endian, C order; fortran_order True or big-endian data is an act::Error.
Tensor load_npy(const std::string& path);
// Reads every array of an .npz (a zip archive of .npy files, stored or deflated); keys are the
// entry names without ".npy".
std::map<std::string, Tensor> load_npz(const std::string& path);
// Writes `tensor` as a version 1 .npy, atomically (a temporary file in the same folder, then
// rename). Supports f32, f64, u8, i8, i32, i64, bool.
void save_npy(const std::string& path, const Tensor& tensor);

// Throws act::Error "<what>: NaN at index i" / "Inf at index i" for f32/f64 tensors.
void check_finite(const Tensor& tensor, const std::string& what);

// ---- images (u8 tensors [H, W, C], C = 1 or 3)

// Decodes a PNG or JPEG (by content, not extension) to `channels` channels.
Tensor read_image(const std::string& path, int channels);
// Writes u8 [H, W, C] images. PNG is lossless; JPEG takes a quality in 1..100.
void write_png(const std::string& path, const Tensor& hwc);
void write_jpeg(const std::string& path, const Tensor& hwc, int quality = 95);
// Bilinear resize (half-pixel centers, no antialiasing) of a float [H, W, C] image.
std::vector<float> resize_bilinear(const float* src, std::int64_t h, std::int64_t w, std::int64_t c,
                                   std::int64_t out_h, std::int64_t out_w);

// ---- batching

struct BatchOptions {
  std::int64_t batch_size = 32;
  bool shuffle = false;
  // Seeds the shuffle (std::mt19937_64 with our own Fisher-Yates draws, so the order is the
  // same on every platform and standard library).
  std::uint64_t seed = 0;
  bool drop_last = false;  // drop a final batch smaller than batch_size
  // Use only the first `limit` samples of the dataset (-1: all), before shuffling.
  std::int64_t limit = -1;
};

// Walks a dataset in batches. Each reset() starts a new epoch with a fresh permutation drawn
// from the same generator, so epoch k's order depends only on (seed, k).
// Ownership: keeps a reference to the dataset, which must outlive it.
class BatchIterator {
 public:
  BatchIterator(const Dataset& dataset, BatchOptions options);
  // Fills `batch` with the next batch; false at the end of the epoch.
  bool next(Batch& batch);
  void reset();
  // Moves past the next `batches` batches without decoding them (resuming a run mid-epoch).
  void skip(std::int64_t batches);
  std::int64_t num_batches() const;
  std::int64_t num_samples() const;  // samples this iterator covers per epoch
  const std::vector<std::int64_t>& order() const { return order_; }

 private:
  void shuffle_order();
  const Dataset& dataset_;
  BatchOptions options_;
  std::vector<std::int64_t> order_;
  std::int64_t position_ = 0;
  std::uint64_t epoch_ = 0;
};

}  // namespace act::host
