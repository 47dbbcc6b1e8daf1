"""EmojiBench protocol: downstream tasks (base/new classes), folds (train/test artwork families)
and the few-shot / test sampling plans derived from them.

The rules (docs/emojibench.md has the reasons):
- A task's classes are the classes of its CLDR groups/subgroups that have a default rendering in
  every DOWN family. Inside each CLDR subgroup, in CLDR order, classes alternate base, new, base…
- Fold k tests on two DOWN families and trains (few-shot) on the other three; every DOWN family
  is tested at least once over the folds.
- K-shot: shot j of a class uses train family j mod 3; r = j div 3 walks first through that
  family's distinct renderings of the class (skin-tone variants) and then augmentations:
  rendering r mod n, augmentation index r div n (0 = clean). Test: every test family's default
  rendering × `test_views` fixed views (view 0 clean).
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Iterable, List, Sequence, Tuple

FACE_SUBGROUPS = ("face-smiling", "face-affection", "face-tongue", "face-hand", "face-neutral-skeptical",
                  "face-sleepy", "face-unwell", "face-hat", "face-glasses", "face-concerned",
                  "face-negative", "face-costume")
ANIMAL_SUBGROUPS = ("animal-mammal", "animal-bird", "animal-amphibian", "animal-reptile",
                    "animal-marine", "animal-bug")
HAND_SUBGROUPS = ("hand-fingers-open", "hand-fingers-partial", "hand-single-finger",
                  "hand-fingers-closed", "hands")


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    name: str
    groups: Tuple[str, ...] = ()
    subgroups: Tuple[str, ...] = ()

    def contains(self, group: str, subgroup: str) -> bool:
        return group in self.groups or subgroup in self.subgroups


TASKS: Tuple[TaskSpec, ...] = (
    TaskSpec("animals", subgroups=ANIMAL_SUBGROUPS),
    TaskSpec("food", groups=("Food & Drink",)),
    TaskSpec("faces", subgroups=FACE_SUBGROUPS),
    TaskSpec("travel", groups=("Travel & Places",)),
    TaskSpec("objects", groups=("Objects",)),
    TaskSpec("hands", subgroups=HAND_SUBGROUPS),
)

SHOT_FAMILIES_PER_FOLD = 3
TEST_VIEWS = 4


@dataclasses.dataclass
class Task:
    name: str
    groups: List[str]
    subgroups: List[str]
    base: List[int]
    new: List[int]


@dataclasses.dataclass
class Fold:
    fold_id: int
    train_families: List[int]
    test_families: List[int]


def build_tasks(classes: Sequence[Tuple[int, str, str]], complete: Iterable[int],
                specs: Sequence[TaskSpec] = TASKS) -> List[Task]:
    """classes: (class id, group, subgroup) in CLDR order; complete: ids drawn by every DOWN family."""
    complete = set(complete)
    tasks = []
    for spec in specs:
        base, new = [], []
        position_in_subgroup: Dict[str, int] = {}
        subgroups_seen: List[str] = []
        for class_id, group, subgroup in classes:
            if class_id not in complete or not spec.contains(group, subgroup):
                continue
            index = position_in_subgroup.get(subgroup, 0)
            position_in_subgroup[subgroup] = index + 1
            if subgroup not in subgroups_seen:
                subgroups_seen.append(subgroup)
            (base if index % 2 == 0 else new).append(class_id)
        tasks.append(Task(spec.name, list(spec.groups), subgroups_seen, base, new))
    return tasks


def build_folds(down_families: Sequence[int], fold_count: int = 3, test_per_fold: int = 2) -> List[Fold]:
    """Fold k tests on DOWN families 2k, 2k+1 (mod n): with 5 families and 3 folds the first one
    is tested twice and every family at least once."""
    n = len(down_families)
    if n < test_per_fold + 1:
        raise ValueError("need more than %d DOWN families, have %d" % (test_per_fold, n))
    folds = []
    for fold_id in range(fold_count):
        test_positions = [(test_per_fold * fold_id + i) % n for i in range(test_per_fold)]
        test = [down_families[p] for p in test_positions]
        train = [f for f in down_families if f not in test]
        folds.append(Fold(fold_id, train, test))
    return folds


@dataclasses.dataclass(frozen=True)
class PlannedImage:
    class_id: int
    family_id: int
    variant: int
    augmentation: int   # 0 = clean; >0 = deterministic augmentation index / test view


def renderings(records: Iterable[Tuple[int, int, int]]) -> Dict[Tuple[int, int], List[int]]:
    """(class, family, variant) records → {(class, family): sorted variants}."""
    table: Dict[Tuple[int, int], List[int]] = {}
    for class_id, family_id, variant in records:
        table.setdefault((class_id, family_id), []).append(variant)
    for variants in table.values():
        variants.sort()
    return table


def shot_plan(class_ids: Sequence[int], fold: Fold, shots: int,
              table: Dict[Tuple[int, int], List[int]]) -> List[PlannedImage]:
    plan = []
    for class_id in class_ids:
        for shot in range(shots):
            family = fold.train_families[shot % len(fold.train_families)]
            variants = table.get((class_id, family))
            if not variants:
                raise KeyError("class %d has no rendering in train family %d" % (class_id, family))
            round_index = shot // len(fold.train_families)
            plan.append(PlannedImage(class_id, family, variants[round_index % len(variants)],
                                     round_index // len(variants)))
    return plan


def test_plan(class_ids: Sequence[int], fold: Fold, table: Dict[Tuple[int, int], List[int]],
              views: int = TEST_VIEWS) -> List[PlannedImage]:
    plan = []
    for class_id in class_ids:
        for family in fold.test_families:
            if 0 not in table.get((class_id, family), []):
                raise KeyError("class %d has no default rendering in test family %d" % (class_id, family))
            for view in range(views):
                plan.append(PlannedImage(class_id, family, 0, view))
    return plan
