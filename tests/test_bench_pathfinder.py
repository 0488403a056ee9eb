"""The connectivity rule behind the Pathfinder learnability benchmark."""

import numpy as np

from benchmarks.bench_pathfinder_learnability import connectivity, generate


def test_connectivity_separates_a_one_pixel_gap_only_without_dilation():
    pos = np.zeros((32, 32), dtype=np.uint8)
    pos[10, 5:20] = 255  # one unbroken line from (10, 5) to (10, 19)
    neg = pos.copy()
    neg[10, 12] = 0  # a one-pixel gap
    images, labels = np.stack([pos, neg]), np.array([1, 0])
    markers = np.array([[[10, 5], [10, 19]]] * 2)
    rows = {r["dilation_px"]: r for r in connectivity(images, labels, markers)}
    assert rows[0]["p_connected_pos"] == 1.0 and rows[0]["p_connected_neg"] == 0.0
    assert rows[0]["rule_accuracy"] == 1.0
    assert rows[1]["p_connected_neg"] == 1.0 and rows[1]["rule_accuracy"] == 0.5


def test_generated_markers_sit_on_bright_pixels_and_labels_are_mixed():
    images, labels, markers = generate(40, "easy", seed=1, workers=1)
    assert images.shape == (40, 32, 32) and images.dtype == np.uint8
    assert set(labels.tolist()) == {0, 1}
    for k in range(40):
        for y, x in markers[k]:
            assert images[k, y, x] > 128  # marker discs are drawn at full contrast
