// The umbrella header: the library's whole public API in one include.
//   #include <mnist/mnist.hpp>
#pragma once

/// \mainpage mnist: MNIST-format image classifiers in C++
///
/// The classic PyTorch tutorial (load MNIST, look at it, split 90/10, batches of 128, train logistic regression
/// and small MLPs with SGD, plot loss and validation accuracy, predict) as a C++20 library.
/// Include `<mnist/mnist.hpp>` and link `mnist::mnist` (CMake) or `pkg-config --cflags --libs mnist`.
///
/// Where to start:
/// - data: mnist::FashionMNIST, mnist::MNIST, mnist::load_dataset, mnist::Dataset (datasets.hpp, dataset.hpp)
/// - pipeline: mnist::random_split, mnist::DataLoader (loader.hpp)
/// - models: mnist::Sequential, mnist::Linear, mnist::ReLU (layers.hpp); mnist::make_model, mnist::Model (nn.hpp);
///   optimizers mnist::SGD, mnist::Adam (optim.hpp)
/// - training: mnist::fit, mnist::evaluate (train.hpp); mnist::cross_entropy, mnist::accuracy (loss.hpp); on N
///   processes under mpirun: mnist::dist::Communicator, FitOptions::comm (dist.hpp, docs/distributed.md)
/// - figures: mnist::plot_lines, mnist::plot_image (plot.hpp); images: mnist::read_image (image.hpp)
/// - checkpoints: mnist::save_state_dict, mnist::load_state_dict (safetensors.hpp); with metadata and resume
///   state: checkpoint.hpp; metrics: mnist::ConfusionMatrix (metrics.hpp)
/// - deployment: mnist::export_onnx writes a trained model as an ONNX graph (onnx.hpp)
/// - errors: every failure throws mnist::Error (error.hpp) with a one-line message.

/// \namespace mnist
/// Everything the library offers: data sets, the data pipeline, models, optimizers, training, checkpoints,
/// images and figures. Every failure is reported by throwing mnist::Error (mnist::UsageError for bad arguments).

#include "mnist/error.hpp"
#include "mnist/tensor.hpp"
#include "mnist/dataset.hpp"
#include "mnist/datasets.hpp"
#include "mnist/idx.hpp"
#include "mnist/download.hpp"
#include "mnist/loader.hpp"
#include "mnist/nn.hpp"
#include "mnist/layers.hpp"
#include "mnist/loss.hpp"
#include "mnist/optim.hpp"
#include "mnist/schedule.hpp"
#include "mnist/dist.hpp"
#include "mnist/train.hpp"
#include "mnist/safetensors.hpp"
#include "mnist/checkpoint.hpp"
#include "mnist/metrics.hpp"
#include "mnist/image.hpp"
#include "mnist/plot.hpp"
#include "mnist/version.hpp"
#include "mnist/onnx.hpp"
