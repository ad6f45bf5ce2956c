"""What the model tests send: small inputs, long class lists (400 made-up names, COCO's 80)."""

from __future__ import annotations

from gdino_serve.demo_checkpoint import TINY_SETTINGS

TEST_HANDLER_SETTINGS = TINY_SETTINGS
_WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa".split()
# 400 distinct names of one to three words, many split into word pieces (e.g. "kilo17" -> kilo ##17)
NAMES_400 = [f"{_WORDS[i % 16]}{i} {_WORDS[(i // 16) % 16]}" if i % 3 else f"{_WORDS[i % 16]} {i}" for i in range(400)]
COCO_NAMES = (
    "person bicycle car motorcycle airplane bus train truck boat traffic_light fire_hydrant stop_sign "
    "parking_meter bench bird cat dog horse sheep cow elephant bear zebra giraffe backpack umbrella handbag tie "
    "suitcase frisbee skis snowboard sports_ball kite baseball_bat baseball_glove skateboard surfboard "
    "tennis_racket bottle wine_glass cup fork knife spoon bowl banana apple sandwich orange broccoli carrot "
    "hot_dog pizza donut cake chair couch potted_plant bed dining_table toilet tv laptop mouse remote keyboard "
    "cell_phone microwave oven toaster sink refrigerator book clock vase scissors teddy_bear hair_drier toothbrush"
)
COCO = [name.replace("_", " ") for name in COCO_NAMES.split()]
