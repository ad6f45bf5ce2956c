"""A COCO export's masks scored by pycocotools' own COCOeval (iouType "segm"), the export against itself."""

from __future__ import annotations

from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def segm_ap_against_itself(coco: COCO) -> float:
    """COCOeval's AP of the export's masks as detection results (COCO's results hold RLE) against the export:
    1.0 when COCO reads every segmentation as the same mask both ways."""
    results = [
        {
            "image_id": a["image_id"],
            "category_id": a["category_id"],
            "segmentation": coco.annToRLE(a),
            "score": a["score"],
        }
        for a in coco.anns.values()
    ]
    evaluation = COCOeval(coco, coco.loadRes(results), iouType="segm")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    return float(evaluation.stats[0])
