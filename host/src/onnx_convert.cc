#include "onnx_convert.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <system_error>

#include "act/kernel/error.h"

namespace act::host::detail {

namespace fs = std::filesystem;
using onnx::TensorProto;

bool onnx_to_dtype(int t, DType* out) {
  switch (t) {
    case TensorProto::FLOAT:
      *out = DType::kF32;
      return true;
    case TensorProto::DOUBLE:
      *out = DType::kF64;
      return true;
    case TensorProto::FLOAT16:
      *out = DType::kF16;
      return true;
    case TensorProto::INT8:
      *out = DType::kI8;
      return true;
    case TensorProto::UINT8:
      *out = DType::kU8;
      return true;
    case TensorProto::INT32:
      *out = DType::kI32;
      return true;
    case TensorProto::INT64:
      *out = DType::kI64;
      return true;
    case TensorProto::BOOL:
      *out = DType::kBool;
      return true;
    default:
      return false;
  }
}

int dtype_to_onnx(DType d) {
  switch (d) {
    case DType::kF32:
      return TensorProto::FLOAT;
    case DType::kF64:
      return TensorProto::DOUBLE;
    case DType::kF16:
      return TensorProto::FLOAT16;
    case DType::kI8:
      return TensorProto::INT8;
    case DType::kU8:
      return TensorProto::UINT8;
    case DType::kI32:
      return TensorProto::INT32;
    case DType::kI64:
      return TensorProto::INT64;
    case DType::kBool:
      return TensorProto::BOOL;
  }
  return TensorProto::UNDEFINED;
}

std::string onnx_type_name(int t) {
  if (TensorProto::DataType_IsValid(t))
    return TensorProto::DataType_Name(static_cast<TensorProto::DataType>(t));
  return "type " + std::to_string(t);
}

namespace {

// Resolves an external-data location against the model folder. Symlinks are resolved before
// the containment check, so a link inside the folder that points outside is refused too.
fs::path resolve_external(const std::string& location, const fs::path& base_dir,
                          const std::string& tensor, const std::string& what) {
  ACT_CHECK(!base_dir.empty(), what, ": tensor '", tensor,
            "' uses external data, which is not allowed here");
  const fs::path loc(location);
  ACT_CHECK(!location.empty(), what, ": tensor '", tensor, "' has external data with no location");
  ACT_CHECK(!loc.is_absolute() && !loc.has_root_name() && !loc.has_root_directory(), what,
            ": tensor '", tensor, "' has external data at absolute path '", location,
            "'; only paths inside the model's folder are allowed");
  const fs::path normal = loc.lexically_normal();
  ACT_CHECK(normal.empty() || *normal.begin() != "..", what, ": tensor '", tensor,
            "' has external data at '", location, "', which is outside the model's folder");
  std::error_code ec;
  const fs::path root = fs::canonical(base_dir.empty() ? fs::path(".") : base_dir, ec);
  ACT_CHECK(!ec, what, ": cannot resolve the model's folder '", base_dir.string(), "'");
  const fs::path full = fs::canonical(root / normal, ec);
  ACT_CHECK(!ec, what, ": tensor '", tensor, "': external data file '", location, "' not found");
  auto [r, f] = std::mismatch(root.begin(), root.end(), full.begin(), full.end());
  ACT_CHECK(r == root.end(), what, ": tensor '", tensor, "' has external data at '", location,
            "', which resolves outside the model's folder (", full.string(), ")");
  ACT_CHECK(fs::is_regular_file(full), what, ": tensor '", tensor, "': external data '", location,
            "' is not a regular file");
  return full;
}

void read_external(const TensorProto& p, const fs::path& base_dir, const std::string& what,
                   void* dst, std::size_t nbytes) {
  std::string location;
  std::int64_t offset = 0;
  std::int64_t length = -1;
  for (const auto& kv : p.external_data()) {
    try {
      if (kv.key() == "location") location = kv.value();
      if (kv.key() == "offset") offset = std::stoll(kv.value());
      if (kv.key() == "length") length = std::stoll(kv.value());
    } catch (const std::exception&) {
      fail(what, ": tensor '", p.name(), "' has a malformed external data ", kv.key(), " '",
           kv.value(), "'");
    }
  }
  const fs::path file = resolve_external(location, base_dir, p.name(), what);
  const auto size = static_cast<std::int64_t>(fs::file_size(file));
  ACT_CHECK(offset >= 0 && offset <= size, what, ": tensor '", p.name(), "': offset ", offset,
            " is outside external data file '", location, "' (", size, " bytes)");
  if (length < 0) length = size - offset;
  ACT_CHECK(length == static_cast<std::int64_t>(nbytes), what, ": tensor '", p.name(),
            "': external data '", location, "' holds ", length, " bytes, expected ", nbytes);
  ACT_CHECK(offset + length <= size, what, ": tensor '", p.name(), "': external data '", location,
            "' is truncated (", size, " bytes, need ", offset + length, ")");
  std::ifstream in(file, std::ios::binary);
  in.seekg(offset);
  in.read(static_cast<char*>(dst), static_cast<std::streamsize>(nbytes));
  ACT_CHECK(in.good() || nbytes == 0, what, ": tensor '", p.name(),
            "': cannot read external data '", location, "'");
}

template <typename Src, typename Dst>
void copy_typed(const Src& src, Dst* dst, std::size_t n, const TensorProto& p,
                const std::string& what) {
  ACT_CHECK(static_cast<std::size_t>(src.size()) == n, what, ": tensor '", p.name(), "' has ",
            src.size(), " values for ", n, " elements");
  for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<Dst>(src[static_cast<int>(i)]);
}

Dim dim_from_proto(const onnx::TensorShapeProto_Dimension& d) {
  Dim out;
  if (d.has_dim_value()) {
    out.value = d.dim_value();
  } else if (d.has_dim_param()) {
    out.param = d.dim_param();
  }
  return out;
}

ValueInfo value_info_from_proto(const onnx::ValueInfoProto& v, const std::string& what) {
  ValueInfo info;
  info.name = v.name();
  if (!v.has_type()) return info;
  ACT_CHECK(v.type().has_tensor_type(), what, ": value '", v.name(),
            "' is not a tensor (sequence, map and optional values are not supported)");
  const auto& tt = v.type().tensor_type();
  if (tt.elem_type() != TensorProto::UNDEFINED) {
    ACT_CHECK(onnx_to_dtype(tt.elem_type(), &info.dtype), what, ": value '", v.name(),
              "' has element type ", onnx_type_name(tt.elem_type()),
              ", which ACT does not support");
    info.has_dtype = true;
  }
  if (tt.has_shape()) {
    info.has_shape = true;
    for (const auto& d : tt.shape().dim()) info.shape.push_back(dim_from_proto(d));
  }
  return info;
}

void value_info_to_proto(const ValueInfo& info, onnx::ValueInfoProto* v) {
  v->set_name(info.name);
  if (!info.has_dtype && !info.has_shape) return;
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(info.has_dtype ? dtype_to_onnx(info.dtype) : TensorProto::UNDEFINED);
  if (!info.has_shape) return;
  auto* shape = tt->mutable_shape();
  for (const auto& d : info.shape) {
    auto* dim = shape->add_dim();
    if (d.known()) {
      dim->set_dim_value(d.value);
    } else if (!d.param.empty()) {
      dim->set_dim_param(d.param);
    }
  }
}

AttrValue attr_from_proto(const onnx::AttributeProto& a, const onnx::NodeProto& node,
                          const fs::path& base_dir, const std::string& what) {
  using A = onnx::AttributeProto;
  auto type = a.type();
  // IR < 2 files leave `type` unset; the populated field tells the kind.
  if (type == A::UNDEFINED) {
    if (a.has_i())
      type = A::INT;
    else if (a.has_f())
      type = A::FLOAT;
    else if (a.has_s())
      type = A::STRING;
    else if (a.has_t())
      type = A::TENSOR;
    else if (a.has_g())
      type = A::GRAPH;
    else if (a.ints_size())
      type = A::INTS;
    else if (a.floats_size())
      type = A::FLOATS;
    else if (a.strings_size())
      type = A::STRINGS;
  }
  switch (type) {
    case A::INT:
      return a.i();
    case A::FLOAT:
      return a.f();
    case A::STRING:
      return a.s();
    case A::TENSOR:
      return tensor_from_proto(a.t(), base_dir, what);
    case A::INTS:
      return std::vector<std::int64_t>(a.ints().begin(), a.ints().end());
    case A::FLOATS:
      return std::vector<float>(a.floats().begin(), a.floats().end());
    case A::STRINGS:
      return std::vector<std::string>(a.strings().begin(), a.strings().end());
    default:
      fail(what, ": node '", node.name(), "' (", node.op_type(), ") has attribute '", a.name(),
           "' of kind ", A::AttributeType_Name(type), ", which ACT does not support");
  }
}

void attr_to_proto(const std::string& name, const AttrValue& value, onnx::AttributeProto* a) {
  using A = onnx::AttributeProto;
  a->set_name(name);
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::int64_t>) {
          a->set_type(A::INT);
          a->set_i(v);
        } else if constexpr (std::is_same_v<T, float>) {
          a->set_type(A::FLOAT);
          a->set_f(v);
        } else if constexpr (std::is_same_v<T, std::string>) {
          a->set_type(A::STRING);
          a->set_s(v);
        } else if constexpr (std::is_same_v<T, Tensor>) {
          a->set_type(A::TENSOR);
          tensor_to_proto(v, "", a->mutable_t());
        } else if constexpr (std::is_same_v<T, std::vector<std::int64_t>>) {
          a->set_type(A::INTS);
          for (auto x : v) a->add_ints(x);
        } else if constexpr (std::is_same_v<T, std::vector<float>>) {
          a->set_type(A::FLOATS);
          for (auto x : v) a->add_floats(x);
        } else {
          a->set_type(A::STRINGS);
          for (const auto& x : v) a->add_strings(x);
        }
      },
      value);
}

}  // namespace

Tensor tensor_from_proto(const TensorProto& p, const fs::path& base_dir, const std::string& what) {
  const std::string name = p.name().empty() ? std::string("<unnamed>") : p.name();
  DType dtype;
  ACT_CHECK(onnx_to_dtype(p.data_type(), &dtype), what, ": tensor '", name, "' has element type ",
            onnx_type_name(p.data_type()), ", which ACT does not support");
  ACT_CHECK(!p.has_segment(), what, ": tensor '", name, "' is segmented, which is not supported");
  Shape shape(p.dims().begin(), p.dims().end());
  std::int64_t numel = 1;
  for (auto d : shape) {
    ACT_CHECK(d >= 0, what, ": tensor '", name, "' has negative dimension ", d);
    ACT_CHECK(d == 0 || numel <= std::numeric_limits<std::int64_t>::max() / d, what, ": tensor '",
              name, "' is too large");
    numel *= d;
  }
  Tensor t(dtype, shape);
  const auto n = static_cast<std::size_t>(numel);
  const std::size_t nbytes = t.nbytes();
  void* dst = t.raw_data();

  if (p.data_location() == TensorProto::EXTERNAL) {
    read_external(p, base_dir, what, dst, nbytes);
    return t;
  }
  if (p.has_raw_data()) {
    ACT_CHECK(p.raw_data().size() == nbytes, what, ": tensor '", name, "' has ",
              p.raw_data().size(), " bytes of raw data, expected ", nbytes, " for ",
              dtype_name(dtype), shape_to_string(shape));
    // ONNX raw data is little-endian, as is every host ACT builds for.
    if (nbytes) std::memcpy(dst, p.raw_data().data(), nbytes);
    if (dtype == DType::kBool) {
      auto* b = static_cast<std::uint8_t*>(dst);
      for (std::size_t i = 0; i < n; ++i) b[i] = b[i] != 0;
    }
    return t;
  }
  switch (dtype) {
    case DType::kF32:
      copy_typed(p.float_data(), static_cast<float*>(dst), n, p, what);
      break;
    case DType::kF64:
      copy_typed(p.double_data(), static_cast<double*>(dst), n, p, what);
      break;
    case DType::kI64:
      copy_typed(p.int64_data(), static_cast<std::int64_t*>(dst), n, p, what);
      break;
    case DType::kI32:
      copy_typed(p.int32_data(), static_cast<std::int32_t*>(dst), n, p, what);
      break;
    case DType::kI8:
      copy_typed(p.int32_data(), static_cast<std::int8_t*>(dst), n, p, what);
      break;
    case DType::kU8:
      copy_typed(p.int32_data(), static_cast<std::uint8_t*>(dst), n, p, what);
      break;
    // FLOAT16 values sit in int32_data as their 16-bit patterns.
    case DType::kF16:
      copy_typed(p.int32_data(), static_cast<std::uint16_t*>(dst), n, p, what);
      break;
    case DType::kBool: {
      ACT_CHECK(static_cast<std::size_t>(p.int32_data_size()) == n, what, ": tensor '", name,
                "' has ", p.int32_data_size(), " values for ", n, " elements");
      auto* b = static_cast<std::uint8_t*>(dst);
      for (std::size_t i = 0; i < n; ++i) b[i] = p.int32_data(static_cast<int>(i)) != 0;
      break;
    }
  }
  return t;
}

void tensor_to_proto(const Tensor& t, const std::string& name, TensorProto* p) {
  ACT_CHECK(t.defined(), "tensor '", name, "' is undefined");
  ACT_CHECK(t.device().kind == DeviceKind::kCpu, "tensor '", name, "' is not on the CPU");
  if (!name.empty()) p->set_name(name);
  p->set_data_type(dtype_to_onnx(t.dtype()));
  for (auto d : t.shape()) p->add_dims(d);
  p->set_raw_data(static_cast<const char*>(t.raw_data()), t.nbytes());
}

Model model_from_proto(const onnx::ModelProto& proto, const fs::path& model_dir,
                       const std::string& what) {
  ACT_CHECK(proto.has_graph(), what, ": not a valid ONNX model (no graph)");
  ACT_CHECK(proto.functions_size() == 0, what, ": model-local functions are not supported");
  Model m;
  m.ir_version = proto.ir_version();
  for (const auto& op : proto.opset_import())
    m.opset_imports.emplace_back(op.domain(), op.version());
  m.producer_name = proto.producer_name();
  m.producer_version = proto.producer_version();
  m.domain = proto.domain();
  m.model_version = proto.model_version();
  m.doc_string = proto.doc_string();
  for (const auto& kv : proto.metadata_props()) m.metadata_props.emplace_back(kv.key(), kv.value());

  const auto& g = proto.graph();
  Graph& graph = m.graph;
  graph.name = g.name();
  graph.doc_string = g.doc_string();
  ACT_CHECK(g.sparse_initializer_size() == 0, what, ": sparse initializer '",
            g.sparse_initializer_size() ? g.sparse_initializer(0).values().name() : "",
            "' is not supported");
  for (const auto& init : g.initializer()) {
    ACT_CHECK(!init.name().empty(), what, ": an initializer has no name");
    graph.set_initializer(init.name(), tensor_from_proto(init, model_dir, what));
  }
  for (const auto& v : g.input()) graph.add_input(value_info_from_proto(v, what));
  for (const auto& v : g.output()) graph.add_output(value_info_from_proto(v, what));
  for (const auto& v : g.value_info()) graph.set_value_info(value_info_from_proto(v, what));
  for (const auto& np : g.node()) {
    Node n;
    n.name = np.name();
    n.op_type = np.op_type();
    n.domain = np.domain() == "ai.onnx" ? std::string() : np.domain();
    n.inputs.assign(np.input().begin(), np.input().end());
    n.outputs.assign(np.output().begin(), np.output().end());
    n.doc_string = np.doc_string();
    for (const auto& a : np.attribute()) {
      ACT_CHECK(a.ref_attr_name().empty(), what, ": node '", np.name(), "' attribute '", a.name(),
                "' refers to a function attribute, which is not supported");
      n.attrs.set(a.name(), attr_from_proto(a, np, model_dir, what));
    }
    graph.add_node(std::move(n));
  }
  return m;
}

onnx::ModelProto model_to_proto(const Model& m) {
  onnx::ModelProto proto;
  proto.set_ir_version(m.ir_version);
  for (const auto& [domain, version] : m.opset_imports) {
    auto* op = proto.add_opset_import();
    op->set_domain(domain);
    op->set_version(version);
  }
  if (!m.producer_name.empty()) proto.set_producer_name(m.producer_name);
  if (!m.producer_version.empty()) proto.set_producer_version(m.producer_version);
  if (!m.domain.empty()) proto.set_domain(m.domain);
  if (m.model_version) proto.set_model_version(m.model_version);
  if (!m.doc_string.empty()) proto.set_doc_string(m.doc_string);
  for (const auto& [k, v] : m.metadata_props) {
    auto* kv = proto.add_metadata_props();
    kv->set_key(k);
    kv->set_value(v);
  }
  const Graph& graph = m.graph;
  auto* g = proto.mutable_graph();
  g->set_name(graph.name.empty() ? std::string("act_graph") : graph.name);
  if (!graph.doc_string.empty()) g->set_doc_string(graph.doc_string);
  for (const auto& n : graph.nodes()) {
    auto* np = g->add_node();
    if (!n.name.empty()) np->set_name(n.name);
    np->set_op_type(n.op_type);
    if (!n.domain.empty()) np->set_domain(n.domain);
    for (const auto& in : n.inputs) np->add_input(in);
    for (const auto& out : n.outputs) np->add_output(out);
    if (!n.doc_string.empty()) np->set_doc_string(n.doc_string);
    for (const auto& [name, value] : n.attrs.all()) attr_to_proto(name, value, np->add_attribute());
  }
  for (const auto& [name, t] : graph.initializers()) tensor_to_proto(t, name, g->add_initializer());
  std::set<std::string> io;
  for (const auto& v : graph.inputs()) {
    value_info_to_proto(v, g->add_input());
    io.insert(v.name);
  }
  for (const auto& v : graph.outputs()) {
    value_info_to_proto(v, g->add_output());
    io.insert(v.name);
  }
  // value_info describes intermediates; inputs/outputs/initializers carry their own types.
  for (const auto& [name, v] : graph.value_infos()) {
    if (io.count(name) || graph.is_initializer(name)) continue;
    if (!v.has_dtype && !v.has_shape) continue;
    value_info_to_proto(v, g->add_value_info());
  }
  return proto;
}

}  // namespace act::host::detail
