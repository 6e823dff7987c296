#include "act/host/onnx_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "act/host/atomic_file.h"
#include "act/kernel/error.h"
#include "onnx/checker.h"
#include "onnx/defs/schema.h"
#include "onnx/shape_inference/implementation.h"
#include "onnx/version_converter/convert.h"
#include "onnx_convert.h"

namespace act::host {

namespace fs = std::filesystem;

namespace {

// Reads a whole file; the messages name the file the user gave, not a resolved path.
std::string read_file(const std::string& path) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  ACT_CHECK(fs::exists(status), path, ": no such file");
  ACT_CHECK(!fs::is_directory(status), path, ": is a directory, not a file");
  const auto size = fs::file_size(path, ec);
  ACT_CHECK(!ec, path, ": cannot read (", ec.message(), ")");
  // protobuf messages are limited to 2 GiB; bigger models must use external data.
  ACT_CHECK(size < static_cast<std::uintmax_t>(INT_MAX), path, ": file is ", size,
            " bytes; ONNX protobuf files must be under 2 GiB (use external data)");
  std::ifstream in(path, std::ios::binary);
  ACT_CHECK(in.is_open(), path, ": cannot open (", std::strerror(errno), ")");
  std::string bytes(static_cast<std::size_t>(size), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  ACT_CHECK(static_cast<std::uintmax_t>(in.gcount()) == size, path, ": read failed");
  return bytes;
}

std::int64_t default_opset_of(const onnx::ModelProto& proto) {
  for (const auto& op : proto.opset_import()) {
    if (op.domain().empty() || op.domain() == "ai.onnx") return op.version();
  }
  return 0;
}

fs::path folder_of(const std::string& path) {
  fs::path dir = fs::path(path).parent_path();
  return dir.empty() ? fs::path(".") : dir;
}

}  // namespace

Model load_onnx(const std::string& path) {
  return load_onnx(path, 0).model;
}

std::int64_t newest_onnx_opset() {
  const auto& ranges = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  const auto it = ranges.find(onnx::ONNX_DOMAIN);
  return it == ranges.end() ? 0 : it->second.second;
}

LoadedModel load_onnx(const std::string& path, std::int64_t min_opset) {
  const std::string bytes = read_file(path);
  onnx::ModelProto proto;
  ACT_CHECK(proto.ParseFromString(bytes), path, ": not a valid ONNX model (protobuf parse failed)");
  // Protobuf happily parses many garbage files as a message of unknown fields; a model
  // without a graph or IR version is not an ONNX model.
  ACT_CHECK(proto.has_graph() && proto.ir_version() > 0, path,
            ": not a valid ONNX model (no graph or IR version)");
  const std::int64_t opset_before = default_opset_of(proto);
  if (min_opset > 0 && opset_before < min_opset) {
    try {
      proto = onnx::version_conversion::ConvertVersion(proto, static_cast<int>(min_opset));
    } catch (const std::exception& e) {
      fail(path, ": ONNX's version converter cannot raise the model from opset ", opset_before,
           " to ", min_opset, ": ", e.what());
    }
    // Opset 13 arrived with IR 7; an older IR version would fail the checker on save.
    if (proto.ir_version() < 7) proto.set_ir_version(7);
  }
  // Inference fills value_info for intermediates; failing it only loses shape hints.
  try {
    onnx::shape_inference::InferShapes(proto);
  } catch (const std::exception&) {
  }
  Model model = detail::model_from_proto(proto, folder_of(path), path);
  try {
    model.graph.topological_sort();
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
  return {std::move(model), opset_before};
}

void save_onnx(const Model& model, const std::string& path) {
  onnx::ModelProto proto = detail::model_to_proto(model);
  // The checker requires a type and rank on every graph output; ONNX's inference supplies
  // them where a rewrite left an output unannotated. Failure here is left to the checker.
  try {
    onnx::shape_inference::InferShapes(proto);
  } catch (const std::exception&) {
  }
  const std::size_t size = proto.ByteSizeLong();
  ACT_CHECK(size < static_cast<std::size_t>(INT_MAX), path, ": model is ", size,
            " bytes; ONNX protobuf files must be under 2 GiB");
  std::string bytes;
  ACT_CHECK(proto.SerializeToString(&bytes), path, ": protobuf serialization failed");

  // Check what was written (reading it back), so a file that passes is one that loads.
  write_file_atomically(path, bytes, [&](const std::string& written) {
    try {
      onnx::checker::check_model(written);
    } catch (const std::exception& e) {
      fail(path, ": the model fails the ONNX checker, not saved: ", e.what());
    }
  });
}

Tensor load_tensor_pb(const std::string& path) {
  const std::string bytes = read_file(path);
  onnx::TensorProto proto;
  ACT_CHECK(proto.ParseFromString(bytes), path,
            ": not a valid ONNX TensorProto (protobuf parse failed)");
  return detail::tensor_from_proto(proto, folder_of(path), path);
}

}  // namespace act::host
