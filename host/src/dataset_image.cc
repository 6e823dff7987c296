// Image folders: PNG through libpng's simplified API, JPEG through libjpeg, then resize /
// center crop / normalize into NCHW float.
// jpeglib.h uses size_t and FILE without including their headers, so those come first.
// clang-format off
#include <cstddef>
#include <cstdio>
#include <jpeglib.h>
#include <png.h>
// clang-format on

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csetjmp>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "act/host/dataset.h"
#include "act/kernel/error.h"
#include "act/kernel/parallel.h"

namespace act::host {
namespace {

namespace fs = std::filesystem;

Tensor read_png(const std::string& path, int channels) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, path.c_str())) {
    fail(path, ": cannot decode PNG: ", image.message);
  }
  image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  Tensor out(DType::kU8, {static_cast<std::int64_t>(image.height),
                          static_cast<std::int64_t>(image.width), channels});
  if (!png_image_finish_read(&image, nullptr, out.raw_data(), 0, nullptr)) {
    const std::string msg = image.message;
    png_image_free(&image);
    fail(path, ": cannot decode PNG: ", msg);
  }
  return out;
}

// libjpeg reports fatal errors through error_exit, which must not return; we longjmp back
// (exceptions cannot unwind through libjpeg's C frames).
struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool warned;
};

void jpeg_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// libjpeg treats corrupt or truncated data as a warning and pads the image with gray; for a
// dataset that is silent garbage, so the first warning is kept and reported as an error.
void jpeg_emit_message(j_common_ptr cinfo, int level) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  if (level < 0 && !err->warned) {
    (*cinfo->err->format_message)(cinfo, err->message);
    err->warned = true;
  }
}

// Only trivially destructible locals live across setjmp here, so longjmp skips nothing.
bool decode_jpeg(std::FILE* file, int channels, std::uint8_t** pixels, std::int64_t* h,
                 std::int64_t* w, char* message) {
  jpeg_decompress_struct cinfo;
  JpegError err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_error_exit;
  err.mgr.emit_message = jpeg_emit_message;
  err.warned = false;
  std::uint8_t* volatile buffer = nullptr;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    std::free(buffer);
    std::memcpy(message, err.message, JMSG_LENGTH_MAX);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_stdio_src(&cinfo, file);
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    std::snprintf(message, JMSG_LENGTH_MAX, "CMYK JPEGs are not supported");
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  cinfo.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  const std::size_t row = static_cast<std::size_t>(cinfo.output_width) * cinfo.output_components;
  buffer = static_cast<std::uint8_t*>(std::malloc(row * cinfo.output_height));
  if (buffer == nullptr) {
    std::snprintf(message, JMSG_LENGTH_MAX, "out of memory");
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW rows[1] = {buffer + row * cinfo.output_scanline};
    jpeg_read_scanlines(&cinfo, rows, 1);
  }
  *h = cinfo.output_height;
  *w = cinfo.output_width;
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  if (err.warned) {
    std::free(buffer);
    std::memcpy(message, err.message, JMSG_LENGTH_MAX);
    return false;
  }
  *pixels = buffer;
  return true;
}

Tensor read_jpeg(const std::string& path, int channels) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  ACT_CHECK(file != nullptr, path, ": cannot open");
  std::uint8_t* pixels = nullptr;
  std::int64_t h = 0, w = 0;
  char message[JMSG_LENGTH_MAX] = {0};
  const bool ok = decode_jpeg(file, channels, &pixels, &h, &w, message);
  std::fclose(file);
  ACT_CHECK(ok, path, ": cannot decode JPEG: ", message);
  Tensor out(DType::kU8, {h, w, channels});
  std::memcpy(out.raw_data(), pixels, out.nbytes());
  std::free(pixels);
  return out;
}

bool has_image_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

class ImageFolderDataset final : public Dataset {
 public:
  ImageFolderDataset(const std::string& root, const DatasetOptions& options)
      : root_(root), options_(options) {
    ACT_CHECK(options_.channels == 1 || options_.channels == 3, root,
              ": channels must be 1 or 3, got ", options_.channels);
    ACT_CHECK(options_.resize >= 0 && options_.crop >= 0, root, ": resize and crop must be >= 0");
    options_.normalization.check(options_.channels);
    std::error_code ec;
    ACT_CHECK(fs::is_directory(root, ec), root, ": not a directory");
    for (const auto& entry : fs::directory_iterator(root, ec)) {
      const std::string name = entry.path().filename().string();
      if (entry.is_directory() && !name.empty() && name[0] != '.') classes_.push_back(name);
    }
    ACT_CHECK(!ec, root, ": cannot list: ", ec.message());
    std::sort(classes_.begin(), classes_.end());
    ACT_CHECK(!classes_.empty(), root, ": no class subfolders (expected root/<class>/<image>)");
    for (std::size_t c = 0; c < classes_.size(); ++c) {
      std::vector<std::string> files;
      for (const auto& entry : fs::directory_iterator(fs::path(root) / classes_[c], ec)) {
        const std::string name = entry.path().filename().string();
        if (entry.is_regular_file() && name[0] != '.' && has_image_extension(entry.path())) {
          files.push_back(entry.path().string());
        }
      }
      std::sort(files.begin(), files.end());
      for (auto& f : files) samples_.push_back({std::move(f), static_cast<std::int64_t>(c)});
    }
    ACT_CHECK(!samples_.empty(), root, ": no .png/.jpg/.jpeg images in ", classes_.size(),
              " class folders");
    if (options_.crop > 0) {
      shape_ = {options_.channels, options_.crop, options_.crop};
    } else {
      // Without a crop the first image fixes the sample shape; others must agree.
      shape_ = load(0).shape();
    }
  }

  std::int64_t size() const override { return static_cast<std::int64_t>(samples_.size()); }
  Shape sample_shape() const override { return shape_; }
  bool has_labels() const override { return true; }
  std::vector<std::string> class_names() const override { return classes_; }
  std::string describe() const override {
    return detail::concat("image folder ", root_, ": ", size(), " images in ", classes_.size(),
                          " classes, samples ", shape_to_string(shape_));
  }

  Batch get(std::span<const std::int64_t> indices) const override {
    const auto n = static_cast<std::int64_t>(indices.size());
    const std::int64_t per = shape_numel(shape_);
    Shape shape = shape_;
    shape.insert(shape.begin(), n);
    Batch batch;
    batch.indices.assign(indices.begin(), indices.end());
    batch.images = Tensor(DType::kF32, shape);
    batch.labels = Tensor(DType::kI64, {n});
    float* dst = batch.images.data<float>();
    std::int64_t* labels = batch.labels->data<std::int64_t>();
    for (std::int64_t idx : indices) {
      ACT_CHECK(idx >= 0 && idx < size(), root_, ": sample index ", idx, " out of range [0, ",
                size(), ")");
    }
    // Decoding dominates; spread it over the pool. Errors are carried out of the workers by
    // hand because a throwing body must not escape parallel_for.
    std::mutex error_mutex;
    std::string error;
    parallel_for(n, 1, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t i = begin; i < end; ++i) {
        try {
          const std::int64_t idx = indices[static_cast<std::size_t>(i)];
          Tensor img = load(idx);
          ACT_CHECK(img.shape() == shape_, samples_[static_cast<std::size_t>(idx)].path,
                    ": image gives ", shape_to_string(img.shape()),
                    " but the dataset's samples are ", shape_to_string(shape_),
                    " (use resize/crop to make them equal)");
          std::copy(img.data<float>(), img.data<float>() + per, dst + i * per);
          labels[i] = samples_[static_cast<std::size_t>(idx)].label;
        } catch (const std::exception& e) {
          std::lock_guard<std::mutex> lock(error_mutex);
          if (error.empty()) error = e.what();
        }
      }
    });
    if (!error.empty()) throw Error(error);
    return batch;
  }

 private:
  struct Sample {
    std::string path;
    std::int64_t label;
  };

  // Decodes sample idx into f32 [C, H, W], resized, cropped and normalized.
  Tensor load(std::int64_t idx) const {
    const std::string& path = samples_[static_cast<std::size_t>(idx)].path;
    Tensor img = read_image(path, options_.channels);
    std::int64_t h = img.dim(0), w = img.dim(1);
    const std::int64_t c = options_.channels;
    std::vector<float> hwc(static_cast<std::size_t>(img.numel()));
    const std::uint8_t* src = img.data<std::uint8_t>();
    for (std::size_t i = 0; i < hwc.size(); ++i) hwc[i] = static_cast<float>(src[i]);
    if (options_.resize > 0) {
      const std::int64_t s = options_.resize;
      std::int64_t nh, nw;
      if (h <= w) {
        nh = s;
        nw = std::max<std::int64_t>(
            1, static_cast<std::int64_t>(std::llround(static_cast<double>(w) * s / h)));
      } else {
        nw = s;
        nh = std::max<std::int64_t>(
            1, static_cast<std::int64_t>(std::llround(static_cast<double>(h) * s / w)));
      }
      if (nh != h || nw != w) hwc = resize_bilinear(hwc.data(), h, w, c, nh, nw);
      h = nh;
      w = nw;
    }
    std::int64_t top = 0, left = 0, oh = h, ow = w;
    if (options_.crop > 0) {
      ACT_CHECK(options_.crop <= h && options_.crop <= w, path, ": image of ", h, "x", w,
                " is smaller than the crop ", options_.crop, " (add a resize)");
      oh = ow = options_.crop;
      top = (h - oh) / 2;
      left = (w - ow) / 2;
    }
    Tensor out(DType::kF32, {c, oh, ow});
    float* dst = out.data<float>();
    for (std::int64_t ch = 0; ch < c; ++ch)
      for (std::int64_t y = 0; y < oh; ++y)
        for (std::int64_t x = 0; x < ow; ++x)
          dst[(ch * oh + y) * ow + x] =
              hwc[static_cast<std::size_t>(((top + y) * w + left + x) * c + ch)] / 255.0f;
    options_.normalization.apply(dst, c, oh * ow);
    return out;
  }

  std::string root_;
  DatasetOptions options_;
  std::vector<std::string> classes_;
  std::vector<Sample> samples_;
  Shape shape_;
};

}  // namespace

Tensor read_image(const std::string& path, int channels) {
  ACT_CHECK(channels == 1 || channels == 3, path, ": channels must be 1 or 3, got ", channels);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  ACT_CHECK(f != nullptr, path, ": cannot open");
  unsigned char magic[8] = {0};
  const std::size_t got = std::fread(magic, 1, sizeof magic, f);
  std::fclose(f);
  static const unsigned char kPng[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  if (got == 8 && std::memcmp(magic, kPng, 8) == 0) return read_png(path, channels);
  if (got >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF)
    return read_jpeg(path, channels);
  fail(path, ": not a PNG or JPEG file", got < 8 ? " (truncated)" : "");
}

void write_png(const std::string& path, const Tensor& hwc) {
  ACT_CHECK(hwc.dtype() == DType::kU8 && hwc.rank() == 3 && (hwc.dim(2) == 1 || hwc.dim(2) == 3),
            path, ": write_png needs u8 [H, W, 1|3], got ", hwc.describe());
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(hwc.dim(1));
  image.height = static_cast<png_uint_32>(hwc.dim(0));
  image.format = hwc.dim(2) == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  ACT_CHECK(png_image_write_to_file(&image, path.c_str(), 0, hwc.raw_data(), 0, nullptr), path,
            ": cannot write PNG: ", image.message);
}

namespace {
bool encode_jpeg(std::FILE* file, const std::uint8_t* pixels, std::int64_t h, std::int64_t w, int c,
                 int quality, char* message) {
  jpeg_compress_struct cinfo;
  JpegError err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_error_exit;
  err.warned = false;
  if (setjmp(err.jump)) {
    jpeg_destroy_compress(&cinfo);
    std::memcpy(message, err.message, JMSG_LENGTH_MAX);
    return false;
  }
  jpeg_create_compress(&cinfo);
  jpeg_stdio_dest(&cinfo, file);
  cinfo.image_width = static_cast<JDIMENSION>(w);
  cinfo.image_height = static_cast<JDIMENSION>(h);
  cinfo.input_components = c;
  cinfo.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW rows[1] = {const_cast<std::uint8_t*>(pixels) +
                        static_cast<std::size_t>(cinfo.next_scanline) * w * c};
    jpeg_write_scanlines(&cinfo, rows, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return true;
}
}  // namespace

void write_jpeg(const std::string& path, const Tensor& hwc, int quality) {
  ACT_CHECK(hwc.dtype() == DType::kU8 && hwc.rank() == 3 && (hwc.dim(2) == 1 || hwc.dim(2) == 3),
            path, ": write_jpeg needs u8 [H, W, 1|3], got ", hwc.describe());
  ACT_CHECK(quality >= 1 && quality <= 100, path, ": JPEG quality must be in 1..100, got ",
            quality);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ACT_CHECK(f != nullptr, path, ": cannot open for writing");
  char message[JMSG_LENGTH_MAX] = {0};
  const bool ok = encode_jpeg(f, hwc.data<std::uint8_t>(), hwc.dim(0), hwc.dim(1),
                              static_cast<int>(hwc.dim(2)), quality, message);
  const bool closed = std::fclose(f) == 0;
  ACT_CHECK(ok, path, ": cannot write JPEG: ", message);
  ACT_CHECK(closed, path, ": write failed");
}

std::vector<float> resize_bilinear(const float* src, std::int64_t h, std::int64_t w, std::int64_t c,
                                   std::int64_t out_h, std::int64_t out_w) {
  ACT_CHECK(h > 0 && w > 0 && out_h > 0 && out_w > 0, "resize: empty image");
  std::vector<float> out(static_cast<std::size_t>(out_h * out_w * c));
  const double sy = static_cast<double>(h) / out_h, sx = static_cast<double>(w) / out_w;
  for (std::int64_t y = 0; y < out_h; ++y) {
    // Half-pixel centers (PyTorch align_corners=False, OpenCV INTER_LINEAR), clamped at edges.
    const double fy = std::clamp((y + 0.5) * sy - 0.5, 0.0, static_cast<double>(h - 1));
    const auto y0 = static_cast<std::int64_t>(fy);
    const std::int64_t y1 = std::min(y0 + 1, h - 1);
    const auto wy = static_cast<float>(fy - y0);
    for (std::int64_t x = 0; x < out_w; ++x) {
      const double fx = std::clamp((x + 0.5) * sx - 0.5, 0.0, static_cast<double>(w - 1));
      const auto x0 = static_cast<std::int64_t>(fx);
      const std::int64_t x1 = std::min(x0 + 1, w - 1);
      const auto wx = static_cast<float>(fx - x0);
      for (std::int64_t ch = 0; ch < c; ++ch) {
        const float a = src[(y0 * w + x0) * c + ch], b = src[(y0 * w + x1) * c + ch];
        const float d = src[(y1 * w + x0) * c + ch], e = src[(y1 * w + x1) * c + ch];
        const float top = a + (b - a) * wx, bottom = d + (e - d) * wx;
        out[static_cast<std::size_t>((y * out_w + x) * c + ch)] = top + (bottom - top) * wy;
      }
    }
  }
  return out;
}

std::unique_ptr<Dataset> open_image_folder(const std::string& root, const DatasetOptions& options) {
  return std::make_unique<ImageFolderDataset>(root, options);
}

}  // namespace act::host
