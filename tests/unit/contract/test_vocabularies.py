"""The shipped vocabularies: counts, sources, labels, prompt names, COCO category ids (torch-free)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from handler.contract.class_names import check_class_names, class_key
from handler.contract.errors import ErrorType, InvalidInput
from handler.contract.vocabulary import VOCABULARIES, load_vocabulary, prompt_name

COUNTS = {"coco": 80, "lvis": 1203, "objects365": 365, "voc": 20, "cityscapes": 8}
COCO_ID_GAPS = {12, 26, 29, 30, 45, 66, 68, 69, 71, 83}


@pytest.mark.parametrize("key", VOCABULARIES)
def test_each_vocabulary_has_its_dataset_count_unique_labels_and_states_its_source(key: str) -> None:
    vocabulary = load_vocabulary(key)
    assert len(vocabulary.labels) == COUNTS[key]
    assert check_class_names(vocabulary.labels) == vocabulary.labels  # unique, no '.', no empty name
    assert "mmdetection@v3.3.0" in vocabulary.source and vocabulary.version and vocabulary.title
    assert all(vocabulary.prompt_names), "every class has text the model reads"


def test_the_caption_is_the_prompt_names_as_a_class_list() -> None:
    vocabulary = load_vocabulary("voc")
    assert vocabulary.caption().startswith("aeroplane . bicycle . bird .")
    assert vocabulary.caption().endswith(" . tvmonitor .")


def test_prompt_names_drop_underscores_and_parenthesised_qualifiers_as_mmdetection() -> None:
    assert prompt_name("aerosol_can") == "aerosol can"
    assert prompt_name("bow_(weapon)") == "bow"
    assert prompt_name("monitor_(computer_equipment) computer_monitor") == "monitor computer monitor"
    assert prompt_name("Traffic  light") == "traffic light"


def test_five_lvis_names_read_alike_once_cleaned_a_documented_tie() -> None:
    lvis = load_vocabulary("lvis")
    shared = {name: count for name, count in Counter(lvis.prompt_names).items() if count > 1}
    assert shared == dict.fromkeys(["bow", "fish", "octopus", "pan", "salmon"], 2)
    assert len({class_key(name) for name in lvis.labels}) == len(lvis.labels)  # the labels stay unique


def test_coco_category_ids_are_the_official_ones() -> None:
    coco = load_vocabulary("coco")
    ids = coco.category_ids
    assert ids is not None and len(ids) == 80 and list(ids) == sorted(ids)
    assert set(range(1, 91)) - set(ids) == COCO_ID_GAPS
    assert ids[coco.labels.index("person")] == 1 and ids[coco.labels.index("stop sign")] == 13
    assert ids[coco.labels.index("toothbrush")] == 90
    assert load_vocabulary("lvis").category_ids is None


def test_an_unknown_vocabulary_is_refused_with_the_known_ones_listed() -> None:
    with pytest.raises(InvalidInput) as error:
        load_vocabulary("imagenet")
    assert error.value.error_type == ErrorType.UNKNOWN_VOCABULARY
    assert "imagenet" in error.value.message and "lvis" in error.value.message


def test_the_data_files_are_package_data_of_the_handler() -> None:
    from importlib import resources

    folder = resources.files("handler.contract") / "vocabularies"
    assert sorted(path.name for path in folder.iterdir()) == sorted(f"{key}.json" for key in VOCABULARIES)
    assert all(json.loads(path.read_text("utf-8"))["license_note"] for path in folder.iterdir())
