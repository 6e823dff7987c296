// The smallest useful plugin: one section with one key, and a report line.
#include <act/sdk/plugin.h>

#include <string>

namespace {

class HelloStrategy final : public act::sdk::Strategy {
 public:
  void configure(const act::sdk::ConfigViewV1& config) override {
    act::sdk::ConfigReader cfg(config);
    greeting_ = cfg.text("greeting", "hello");
    cfg.reject_unknown_keys();
  }
  void report(act::sdk::ReportWriterV1& report) override {
    report.text("greeting", greeting_.c_str());
  }

 private:
  std::string greeting_;
};

}  // namespace

ACT_PLUGIN(HelloStrategy, "hello-out-of-tree", "0.0.1", "HelloOutOfTree")
