// NumPy .npy / .npz files and the dataset over them.
//
// .npy: "\x93NUMPY", version (1, 2 or 3), header length (u16 for v1, u32 after), then a
// Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (N, ...), } padded
// with spaces, then the raw data. .npz is a zip archive of .npy entries; we read the zip
// central directory ourselves (STORED and DEFLATE only, which is all numpy writes) rather
// than pull in a zip library for one format.
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "act/host/atomic_file.h"
#include "act/host/dataset.h"
#include "act/kernel/error.h"

namespace act::host {
namespace {

std::string base_name(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

std::vector<std::uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  ACT_CHECK(in.good(), base_name(path), ": cannot open (", path, ")");
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::size_t>(in.tellg());
  in.seekg(0);
  std::vector<std::uint8_t> bytes(size);
  if (size > 0) in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  ACT_CHECK(in.good(), base_name(path), ": read error");
  return bytes;
}

// Value of `key` in the header dict, as the raw text up to the next top-level ',' or '}'.
std::string header_field(const std::string& header, const std::string& key,
                         const std::string& what) {
  const std::string quoted[2] = {"'" + key + "'", "\"" + key + "\""};
  std::size_t pos = std::string::npos;
  for (const auto& q : quoted) {
    pos = header.find(q);
    if (pos != std::string::npos) {
      pos += q.size();
      break;
    }
  }
  ACT_CHECK(pos != std::string::npos, what, ": .npy header has no '", key, "': ", header);
  pos = header.find(':', pos);
  ACT_CHECK(pos != std::string::npos, what, ": malformed .npy header: ", header);
  ++pos;
  while (pos < header.size() && header[pos] == ' ') ++pos;
  std::size_t end = pos;
  if (end < header.size() && header[end] == '(') {
    end = header.find(')', end);
    ACT_CHECK(end != std::string::npos, what, ": malformed shape in .npy header: ", header);
    ++end;
  } else {
    while (end < header.size() && header[end] != ',' && header[end] != '}') ++end;
  }
  std::string value = header.substr(pos, end - pos);
  while (!value.empty() && value.back() == ' ') value.pop_back();
  return value;
}

Tensor parse_npy(const std::uint8_t* data, std::size_t size, const std::string& what) {
  static const char kMagic[] = "\x93NUMPY";
  ACT_CHECK(size >= 10 && std::memcmp(data, kMagic, 6) == 0, what, ": not a .npy file (bad magic)");
  const int major = data[6];
  ACT_CHECK(major >= 1 && major <= 3, what, ": unsupported .npy format version ", major, ".",
            int{data[7]});
  std::size_t header_len = 0, offset = 0;
  if (major == 1) {
    header_len = data[8] | (std::size_t{data[9]} << 8);
    offset = 10;
  } else {
    ACT_CHECK(size >= 12, what, ": truncated .npy header");
    header_len = data[8] | (std::size_t{data[9]} << 8) | (std::size_t{data[10]} << 16) |
                 (std::size_t{data[11]} << 24);
    offset = 12;
  }
  ACT_CHECK(offset + header_len <= size, what, ": truncated .npy header (", header_len,
            " bytes declared, ", size - offset, " present)");
  const std::string header(reinterpret_cast<const char*>(data + offset), header_len);
  offset += header_len;

  std::string descr = header_field(header, "descr", what);
  ACT_CHECK(descr.size() >= 2 && (descr.front() == '\'' || descr.front() == '"'), what,
            ": unsupported dtype ", descr, " (structured dtypes are not supported)");
  descr = descr.substr(1, descr.size() - 2);
  const std::string fortran = header_field(header, "fortran_order", what);
  ACT_CHECK(fortran != "True", what,
            ": array is in Fortran order; only C order is supported "
            "(save it with numpy.ascontiguousarray)");
  ACT_CHECK(fortran == "False", what, ": malformed fortran_order '", fortran, "'");

  ACT_CHECK(descr.size() >= 3, what, ": unsupported dtype '", descr, "'");
  const char order = descr[0];
  const std::string kind = descr.substr(1);
  ACT_CHECK(order != '>', what, ": big-endian dtype '", descr, "' is not supported");
  ACT_CHECK(order == '<' || order == '|' || order == '=', what, ": unsupported dtype '", descr,
            "'");
  DType dtype;
  if (kind == "f4")
    dtype = DType::kF32;
  else if (kind == "f8")
    dtype = DType::kF64;
  else if (kind == "u1")
    dtype = DType::kU8;
  else if (kind == "i1")
    dtype = DType::kI8;
  else if (kind == "i4")
    dtype = DType::kI32;
  else if (kind == "i8")
    dtype = DType::kI64;
  else if (kind == "b1")
    dtype = DType::kBool;
  else
    fail(what, ": unsupported dtype '", descr, "' (supported: f4 f8 u1 i1 i4 i8 b1)");

  const std::string shape_text = header_field(header, "shape", what);
  ACT_CHECK(shape_text.size() >= 2 && shape_text.front() == '(' && shape_text.back() == ')', what,
            ": malformed shape ", shape_text);
  Shape shape;
  std::size_t p = 1;
  while (p < shape_text.size() - 1) {
    while (p < shape_text.size() - 1 && (shape_text[p] == ' ' || shape_text[p] == ',')) ++p;
    if (p >= shape_text.size() - 1) break;
    std::size_t q = p;
    while (q < shape_text.size() - 1 && std::isdigit(static_cast<unsigned char>(shape_text[q])))
      ++q;
    ACT_CHECK(q > p, what, ": malformed shape ", shape_text);
    shape.push_back(std::stoll(shape_text.substr(p, q - p)));
    p = q;
  }
  Tensor t(dtype, shape);
  const std::size_t need = t.nbytes();
  ACT_CHECK(size - offset >= need, what, ": truncated: expected ", need, " bytes of data for ",
            dtype_name(dtype), shape_to_string(shape), ", got ", size - offset);
  if (need > 0) std::memcpy(t.raw_data(), data + offset, need);
  return t;
}

std::uint16_t le16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
std::uint32_t le32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
         (std::uint32_t{p[3]} << 24);
}
std::uint64_t le64(const std::uint8_t* p) {
  return le32(p) | (std::uint64_t{le32(p + 4)} << 32);
}

std::vector<std::uint8_t> inflate_raw(const std::uint8_t* src, std::size_t size,
                                      std::size_t expected, const std::string& what) {
  std::vector<std::uint8_t> out(expected);
  z_stream zs{};
  // Negative window bits: zip entries are raw deflate, without zlib or gzip framing.
  ACT_CHECK(inflateInit2(&zs, -MAX_WBITS) == Z_OK, what, ": inflateInit failed");
  zs.next_in = const_cast<Bytef*>(src);
  zs.avail_in = static_cast<uInt>(size);
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(expected);
  const int rc = inflate(&zs, Z_FINISH);
  const std::size_t produced = expected - zs.avail_out;
  const std::string msg = zs.msg ? zs.msg : "";
  inflateEnd(&zs);
  ACT_CHECK(rc == Z_STREAM_END, what, ": corrupt deflate data",
            msg.empty() ? std::string() : " (" + msg + ")", ": inflated ", produced, " of ",
            expected, " bytes");
  return out;
}

}  // namespace

Tensor load_npy(const std::string& path) {
  const std::vector<std::uint8_t> bytes = read_file(path);
  return parse_npy(bytes.data(), bytes.size(), base_name(path));
}

std::map<std::string, Tensor> load_npz(const std::string& path) {
  const std::vector<std::uint8_t> z = read_file(path);
  const std::string name = base_name(path);
  // The end-of-central-directory record sits in the last 22 + 65535 (comment) bytes.
  ACT_CHECK(z.size() >= 22, name, ": not a zip archive (", z.size(), " bytes)");
  std::size_t eocd = std::string::npos;
  const std::size_t lowest = z.size() > 22 + 65535 ? z.size() - 22 - 65535 : 0;
  for (std::size_t i = z.size() - 22 + 1; i-- > lowest;) {
    if (le32(&z[i]) == 0x06054b50) {
      eocd = i;
      break;
    }
  }
  ACT_CHECK(eocd != std::string::npos, name,
            ": not a zip archive (no end of central directory; truncated?)");
  const std::uint16_t entries = le16(&z[eocd + 10]);
  std::uint64_t cd_offset = le32(&z[eocd + 16]);
  ACT_CHECK(entries != 0xFFFF && cd_offset != 0xFFFFFFFFu, name,
            ": zip64 archives with this many entries are not supported");
  std::map<std::string, Tensor> arrays;
  std::size_t p = cd_offset;
  for (std::uint16_t e = 0; e < entries; ++e) {
    ACT_CHECK(p + 46 <= z.size() && le32(&z[p]) == 0x02014b50, name,
              ": corrupt zip central directory (entry ", e, ")");
    const std::uint16_t method = le16(&z[p + 10]);
    const std::uint32_t crc = le32(&z[p + 16]);
    std::uint64_t comp_size = le32(&z[p + 20]);
    std::uint64_t raw_size = le32(&z[p + 24]);
    const std::uint16_t name_len = le16(&z[p + 28]);
    const std::uint16_t extra_len = le16(&z[p + 30]);
    const std::uint16_t comment_len = le16(&z[p + 32]);
    std::uint64_t local = le32(&z[p + 42]);
    ACT_CHECK(p + 46 + name_len + extra_len + comment_len <= z.size(), name,
              ": corrupt zip central directory");
    const std::string entry(reinterpret_cast<const char*>(&z[p + 46]), name_len);
    // Zip64 extra field: 64-bit values replace, in order, whichever 32-bit fields are all ones.
    for (std::size_t x = p + 46 + name_len; x + 4 <= p + 46 + name_len + extra_len;) {
      const std::uint16_t id = le16(&z[x]);
      const std::uint16_t len = le16(&z[x + 2]);
      if (id == 0x0001) {
        std::size_t q = x + 4;
        if (raw_size == 0xFFFFFFFFu && q + 8 <= x + 4 + len) raw_size = le64(&z[q]), q += 8;
        if (comp_size == 0xFFFFFFFFu && q + 8 <= x + 4 + len) comp_size = le64(&z[q]), q += 8;
        if (local == 0xFFFFFFFFu && q + 8 <= x + 4 + len) local = le64(&z[q]);
      }
      x += 4 + len;
    }
    p += 46 + name_len + extra_len + comment_len;

    const std::string what = name + ":" + entry;
    ACT_CHECK(local + 30 <= z.size() && le32(&z[local]) == 0x04034b50, what,
              ": corrupt zip local header");
    const std::uint64_t data_start = local + 30 + le16(&z[local + 26]) + le16(&z[local + 28]);
    ACT_CHECK(data_start + comp_size <= z.size(), what, ": truncated: entry needs ", comp_size,
              " bytes, archive has ", z.size() > data_start ? z.size() - data_start : 0);
    std::vector<std::uint8_t> raw;
    if (method == 0) {
      ACT_CHECK(comp_size == raw_size, what, ": stored entry with mismatched sizes");
      raw.assign(z.begin() + static_cast<std::ptrdiff_t>(data_start),
                 z.begin() + static_cast<std::ptrdiff_t>(data_start + comp_size));
    } else if (method == 8) {
      raw = inflate_raw(&z[data_start], comp_size, raw_size, what);
    } else {
      fail(what, ": unsupported zip compression method ", method, " (only stored and deflate)");
    }
    const auto actual_crc =
        static_cast<std::uint32_t>(crc32(0L, raw.data(), static_cast<uInt>(raw.size())));
    ACT_CHECK(actual_crc == crc, what, ": CRC mismatch (corrupt archive)");
    std::string key = entry;
    if (key.size() > 4 && key.substr(key.size() - 4) == ".npy") key.resize(key.size() - 4);
    arrays[key] = parse_npy(raw.data(), raw.size(), what);
  }
  return arrays;
}

void save_npy(const std::string& path, const Tensor& tensor) {
  const char* descr = nullptr;
  switch (tensor.dtype()) {
    case DType::kF32:
      descr = "<f4";
      break;
    case DType::kF64:
      descr = "<f8";
      break;
    case DType::kU8:
      descr = "|u1";
      break;
    case DType::kI8:
      descr = "|i1";
      break;
    case DType::kI32:
      descr = "<i4";
      break;
    case DType::kI64:
      descr = "<i8";
      break;
    case DType::kBool:
      descr = "|b1";
      break;
    default:
      fail(path, ": cannot write ", dtype_name(tensor.dtype()), " tensors as .npy");
  }
  std::string shape = "(";
  for (std::size_t i = 0; i < tensor.shape().size(); ++i) {
    shape += std::to_string(tensor.shape()[i]);
    shape += (tensor.shape().size() == 1 || i + 1 < tensor.shape().size()) ? "," : "";
    if (i + 1 < tensor.shape().size()) shape += " ";
  }
  shape += ")";
  std::string header =
      std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad so the data starts on a 64-byte boundary, as numpy does; the header ends in '\n'.
  const std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  ACT_CHECK(header.size() <= 0xFFFF, path, ": shape too long for a version 1 .npy header");

  std::string bytes;
  const unsigned char prefix[10] = {0x93,
                                    'N',
                                    'U',
                                    'M',
                                    'P',
                                    'Y',
                                    1,
                                    0,
                                    static_cast<unsigned char>(header.size() & 0xFF),
                                    static_cast<unsigned char>(header.size() >> 8)};
  bytes.append(reinterpret_cast<const char*>(prefix), 10);
  bytes.append(header);
  if (tensor.nbytes() > 0)
    bytes.append(static_cast<const char*>(tensor.raw_data()), tensor.nbytes());
  write_file_atomically(path, bytes);
}

namespace {

class NpyDataset final : public Dataset {
 public:
  NpyDataset(const std::string& path, const DatasetOptions& options)
      : path_(path), normalization_(options.normalization) {
    const std::string name = base_name(path);
    std::string ext = std::filesystem::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    Tensor images;
    std::optional<Tensor> labels;
    if (ext == ".npz") {
      std::map<std::string, Tensor> arrays = load_npz(path);
      auto pick = [&](const std::string& key, std::initializer_list<const char*> defaults,
                      bool required, const char* role) -> std::optional<Tensor> {
        if (!key.empty()) {
          auto it = arrays.find(key);
          ACT_CHECK(it != arrays.end(), name, ": no array named '", key, "' (", role, ")",
                    list_keys(arrays));
          source_.append(" ").append(role).append("='").append(key).append("'");
          return it->second;
        }
        for (const char* k : defaults) {
          auto it = arrays.find(k);
          if (it != arrays.end()) {
            source_.append(" ").append(role).append("='").append(k).append("'");
            return it->second;
          }
        }
        ACT_CHECK(!required, name, ": no images array (looked for x, images, data, inputs)",
                  list_keys(arrays));
        return std::nullopt;
      };
      images = *pick(options.images_key, {"x", "images", "data", "inputs"}, true, "images");
      labels = pick(options.labels_key, {"y", "labels", "targets"}, false, "labels");
    } else {
      images = load_npy(path);
      if (!options.labels_path.empty()) {
        labels = load_npy(options.labels_path);
        source_ = " labels from " + base_name(options.labels_path);
      }
    }
    images_ = to_samples(images, name);
    if (labels) {
      const std::string lname =
          options.labels_path.empty() ? name + " labels" : base_name(options.labels_path);
      ACT_CHECK(labels->dtype() == DType::kI64 || labels->dtype() == DType::kI32 ||
                    labels->dtype() == DType::kU8 || labels->dtype() == DType::kI8,
                lname, ": labels must be integers, got ", dtype_name(labels->dtype()));
      ACT_CHECK(labels->rank() == 1 || (labels->rank() == 2 && labels->dim(1) == 1), lname,
                ": labels must have shape [N], got ", shape_to_string(labels->shape()));
      ACT_CHECK(labels->dim(0) == images_.dim(0), lname, ": ", labels->dim(0), " labels for ",
                images_.dim(0), " samples");
      labels_ = labels->cast(DType::kI64).reshaped({labels->dim(0)});
    }
  }

  std::int64_t size() const override { return images_.dim(0); }
  Shape sample_shape() const override {
    return Shape(images_.shape().begin() + 1, images_.shape().end());
  }
  bool has_labels() const override { return labels_.defined(); }
  std::string describe() const override {
    return detail::concat("NumPy ", base_name(path_), ": ", size(), " x ",
                          shape_to_string(sample_shape()), source_,
                          has_labels() ? "" : ", no labels");
  }

  Batch get(std::span<const std::int64_t> indices) const override {
    const auto n = static_cast<std::int64_t>(indices.size());
    const std::int64_t per = shape_numel(sample_shape());
    Shape shape = images_.shape();
    shape[0] = n;
    Batch batch;
    batch.indices.assign(indices.begin(), indices.end());
    batch.images = Tensor(DType::kF32, shape);
    if (has_labels()) batch.labels = Tensor(DType::kI64, {n});
    const float* src = images_.data<float>();
    float* dst = batch.images.data<float>();
    const std::int64_t channels = images_.rank() == 4 ? images_.dim(1) : 1;
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t idx = indices[static_cast<std::size_t>(i)];
      ACT_CHECK(idx >= 0 && idx < size(), base_name(path_), ": sample index ", idx,
                " out of range [0, ", size(), ")");
      std::copy(src + idx * per, src + (idx + 1) * per, dst + i * per);
      normalization_.apply(dst + i * per, channels, per / channels);
      if (has_labels()) batch.labels->data<std::int64_t>()[i] = labels_.data<std::int64_t>()[idx];
    }
    return batch;
  }

 private:
  static std::string list_keys(const std::map<std::string, Tensor>& arrays) {
    std::string out = "; it has:";
    for (const auto& [k, v] : arrays) out += " " + k;
    return out;
  }

  // Converts to f32 samples [N, ...]: u8 scaled to [0, 1], rank 3 gets a channel dim, NHWC
  // with 1 or 3 channels becomes NCHW. Float data must be finite.
  Tensor to_samples(const Tensor& a, const std::string& name) {
    ACT_CHECK(a.rank() >= 2 && a.rank() <= 4, name,
              ": images must have rank 2, 3 or 4 ([N, F], [N, H, W], NCHW), got ",
              shape_to_string(a.shape()));
    ACT_CHECK(a.dtype() != DType::kBool, name, ": boolean images are not supported");
    check_finite(a, name);
    Tensor f = a.cast(DType::kF32);
    if (a.dtype() == DType::kU8) {
      float* p = f.data<float>();
      for (std::int64_t i = 0; i < f.numel(); ++i) p[i] /= 255.0f;
    }
    if (f.rank() == 3) f = f.reshaped({f.dim(0), 1, f.dim(1), f.dim(2)});
    if (a.rank() == 4 && (f.dim(3) == 1 || f.dim(3) == 3) && f.dim(1) != 1 && f.dim(1) != 3) {
      const std::int64_t n = f.dim(0), h = f.dim(1), w = f.dim(2), c = f.dim(3);
      Tensor t(DType::kF32, {n, c, h, w});
      const float* s = f.data<float>();
      float* d = t.data<float>();
      for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t y = 0; y < h; ++y)
          for (std::int64_t x = 0; x < w; ++x)
            for (std::int64_t ch = 0; ch < c; ++ch)
              d[((i * c + ch) * h + y) * w + x] = s[((i * h + y) * w + x) * c + ch];
      f = t;
    }
    if (f.rank() == 4)
      normalization_.check(f.dim(1));
    else
      normalization_.check(1);
    return f;
  }

  std::string path_;
  std::string source_;
  Normalization normalization_;
  Tensor images_;  // f32 [N, ...]
  Tensor labels_;  // i64 [N] or undefined
};

}  // namespace

std::unique_ptr<Dataset> open_npy(const std::string& path, const DatasetOptions& options) {
  return std::make_unique<NpyDataset>(path, options);
}

}  // namespace act::host
