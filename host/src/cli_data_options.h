// The data flags that `act eval` and `act analyze` share (labels, normalization, image
// folders), declared and read in one place so they mean the same everywhere.
#pragma once

#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "act/host/dataset.h"
#include "cli_util.h"

namespace act::host {

inline void add_data_options(boost::program_options::options_description& options) {
  namespace po = boost::program_options;
  options.add_options()("labels,l", po::value<std::string>(),
                        "labels file (IDX labels, or .npy for a .npy dataset)")(
      "mean", po::value<std::vector<std::string>>()->multitoken(),
      "per-channel mean, after scaling to [0, 1]")(
      "std", po::value<std::vector<std::string>>()->multitoken(),
      "per-channel std, after scaling to [0, 1]")("channels", po::value<int>()->default_value(3),
                                                  "image folders: 1 (gray) or 3 (RGB)")(
      "resize", po::value<int>()->default_value(0),
      "image folders: resize the short side to N pixels")(
      "crop", po::value<int>()->default_value(0), "image folders: center crop N x N");
}

// Throws act::Error for a --mean/--std value that is not a number.
inline DatasetOptions read_data_options(const boost::program_options::variables_map& vm) {
  DatasetOptions options;
  if (vm.count("labels")) options.labels_path = vm["labels"].as<std::string>();
  if (vm.count("mean"))
    options.normalization.mean = parse_floats(vm["mean"].as<std::vector<std::string>>(), "--mean");
  if (vm.count("std"))
    options.normalization.std = parse_floats(vm["std"].as<std::vector<std::string>>(), "--std");
  options.channels = vm["channels"].as<int>();
  options.resize = vm["resize"].as<int>();
  options.crop = vm["crop"].as<int>();
  return options;
}

}  // namespace act::host
