// skiptune/emojibench/protocols.hpp — the paper's evaluation protocols on EmojiBench, as data:
// what a method trains on (classes + a few-shot plan) and what it is scored on (named
// evaluations, each a candidate class set and the test images). methods.hpp runs them.
//
//   base-to-new   train K shots of the task's base classes; score base (among base classes) and
//                 new (among new classes, never trained on) separately; HM = harmonic mean.
//   few-shot      train K ∈ {1, 2, 4, 8, 16} shots of all the task's classes; score all.
//   cross-task    train 16 shots of all classes of one task; score every other task zero-shot.
//   domain shift  train 16 shots of all classes of one task on colour artwork; score the fold's
//                 colour test families and each monochrome SHIFT family.
// A fold fixes which three DOWN artwork families give the shots and which two are tested, so a
// shot and a test image never share an artwork family (EmojiPack::shot_plan / test_plan).
#pragma once

#include <string>
#include <vector>

#include "skiptune/core/errors.hpp"
#include "skiptune/data/emoji_pack.hpp"

namespace skiptune::emojibench {

/// One score: classify `plan`'s images among `classes`.
struct Evaluation {
  std::string name;                      ///< "base", "new", "all", a task or a family name
  std::vector<int> classes;              ///< candidate classes (prompts)
  std::vector<data::PlannedImage> plan;  ///< test images (each with its fixed view)
};

/// What to train on and what to score.
struct ProtocolRun {
  std::string protocol;  ///< "base-to-new", "few-shot", "cross-task", "domain-shift"
  std::string task;
  int fold = 0;
  int shots = 16;
  std::vector<int> train_classes;
  std::vector<data::PlannedImage> train_plan;
  std::vector<Evaluation> evaluations;
};

inline ProtocolRun base_to_new_run(const data::EmojiPack& pack, const std::string& task_name, int fold_id, int shots = 16) {
  const auto& task = pack.task(task_name);
  const auto& fold = pack.fold(fold_id);
  ProtocolRun run{"base-to-new", task_name, fold_id, shots, task.base_classes, pack.shot_plan(task.base_classes, fold, shots), {}};
  run.evaluations.push_back({"base", task.base_classes, pack.test_plan(task.base_classes, fold)});
  run.evaluations.push_back({"new", task.new_classes, pack.test_plan(task.new_classes, fold)});
  return run;
}

inline ProtocolRun few_shot_run(const data::EmojiPack& pack, const std::string& task_name, int fold_id, int shots) {
  const auto& task = pack.task(task_name);
  const auto& fold = pack.fold(fold_id);
  const auto all = task.all_classes();
  ProtocolRun run{"few-shot", task_name, fold_id, shots, all, pack.shot_plan(all, fold, shots), {}};
  run.evaluations.push_back({"all", all, pack.test_plan(all, fold)});
  return run;
}

inline ProtocolRun cross_task_run(const data::EmojiPack& pack, const std::string& source_task, int fold_id, int shots = 16) {
  const auto& fold = pack.fold(fold_id);
  const auto source = pack.task(source_task).all_classes();
  ProtocolRun run{"cross-task", source_task, fold_id, shots, source, pack.shot_plan(source, fold, shots), {}};
  run.evaluations.push_back({source_task, source, pack.test_plan(source, fold)});
  for (const auto& other : pack.tasks()) {
    if (other.name == source_task) continue;
    const auto classes = other.all_classes();
    run.evaluations.push_back({other.name, classes, pack.test_plan(classes, fold)});
  }
  return run;
}

/// Test images of `classes` in one SHIFT family (its default rendering, `views` fixed views);
/// classes the family does not draw are left out of the images but stay candidates.
inline std::vector<data::PlannedImage> family_plan(const data::EmojiPack& pack, const std::vector<int>& classes,
                                                   int family_id, int views) {
  data::EmojiFold only;
  only.test_families = {family_id};
  std::vector<int> drawn;
  for (int c : classes)
    if (pack.has_image(c, family_id, 0)) drawn.push_back(c);
  return drawn.empty() ? std::vector<data::PlannedImage>{} : pack.test_plan(drawn, only, views);
}

inline ProtocolRun domain_shift_run(const data::EmojiPack& pack, const std::string& task_name, int fold_id, int shots = 16) {
  const auto& fold = pack.fold(fold_id);
  const auto all = pack.task(task_name).all_classes();
  ProtocolRun run{"domain-shift", task_name, fold_id, shots, all, pack.shot_plan(all, fold, shots), {}};
  run.evaluations.push_back({"colour", all, pack.test_plan(all, fold)});
  for (int family : pack.families_with_role(data::FamilyRole::shift)) {
    auto plan = family_plan(pack, all, family, pack.test_views());
    if (!plan.empty()) run.evaluations.push_back({pack.family(family).name, all, std::move(plan)});
  }
  return run;
}

/// A protocol by name ("base-to-new", "few-shot", "cross-task", "domain-shift").
inline ProtocolRun make_protocol_run(const data::EmojiPack& pack, const std::string& protocol, const std::string& task,
                                     int fold, int shots) {
  if (protocol == "base-to-new") return base_to_new_run(pack, task, fold, shots);
  if (protocol == "few-shot") return few_shot_run(pack, task, fold, shots);
  if (protocol == "cross-task") return cross_task_run(pack, task, fold, shots);
  if (protocol == "domain-shift") return domain_shift_run(pack, task, fold, shots);
  throw ConfigError("unknown protocol '" + protocol +
                    "' (expected base-to-new, few-shot, cross-task or domain-shift)");
}

}  // namespace skiptune::emojibench
