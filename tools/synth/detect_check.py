"""How often MediaPipe Pose finds the person in a folder of renders (issue 3's 98 % target).

Uses the project's own ``posture.pose.PoseEstimator`` so the check matches the pipeline.
Also reports the median pixel distance between MediaPipe's hips/knees/ankles and the labelled
joint centres (as a fraction of the person's height in pixels), as a sanity check of the
labels' 2D points.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

MP_JOINTS = {"hip": (23, 24), "knee": (25, 26), "ankle": (27, 28), "shoulder": (11, 12)}


def detection_report(folder: Path, limit: int | None = None) -> dict:
    """Detection rate and joint agreement over the labelled images in ``folder``."""
    from posture.pose import PoseEstimator

    labels = sorted(folder.glob("*.json"))[:limit]
    found, errors, missed = 0, [], []
    with PoseEstimator(segmentation=False, num_poses=1) as est:
        for path in labels:
            label = json.loads(path.read_text())
            bgr = cv2.imread(str(folder / label["image"]))
            result = est.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            if not result.poses:
                missed.append(label["id"])
                continue
            found += 1
            pose = result.poses[0]
            xy = np.asarray(pose.xy)
            box = label["person_bbox_px"]
            height = box[3] - box[1]
            for name, (left, right) in MP_JOINTS.items():
                truth = (np.array(label["points"][f"{name}_L"]["px"])
                         + np.array(label["points"][f"{name}_R"]["px"])) / 2
                guess = (xy[left, :2] + xy[right, :2]) / 2
                errors.append((name, float(np.linalg.norm(guess - truth) / height)))
    per_joint = {n: float(np.median([e for j, e in errors if j == n])) for n in MP_JOINTS
                 if any(j == n for j, _ in errors)}
    return {"images": len(labels), "detected": found,
            "rate": found / max(len(labels), 1), "missed": missed,
            "median_mid_joint_error_frac_height": per_joint}


def main(folder: str, limit: int | None = None) -> int:
    report = detection_report(Path(folder), limit)
    print(json.dumps(report, indent=1))
    return 0 if report["rate"] >= 0.98 else 1
