"""Where a quality spends its bits: latent channels ranked by bits, the channel × quality heatmap, bit maps.

Plain numpy, no Qt: the latent panel only draws what these return, all derived from measured `QualityResult`s.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from lci_studio.codec.ladder import QualityResult
from lci_studio.codec.model import FactorizedPrior


def elements_per_channel(result: QualityResult) -> int:
    """Latent positions in one channel (h × w of the latent grid)."""
    return int(result.bit_map.shape[1] * result.bit_map.shape[2])


def channel_bits_per_element(result: QualityResult) -> np.ndarray:
    """(M,) average -log2 p per latent position, for each channel."""
    return result.bits_per_channel / max(elements_per_channel(result), 1)


def channel_ranking(result: QualityResult) -> np.ndarray:
    """(M,) channel indices from most to least bits (ties keep channel order)."""
    return np.argsort(-result.bits_per_channel, kind="stable")


@dataclass(frozen=True)
class ChannelHeatmap:
    """Bits per latent position of each channel, channels ranked per quality.

    `matrix[r, j]` is the r-th busiest channel of `qualities[j]` (bits per latent position);
    `order[r, j]` is that channel's index in its model. Models with fewer channels than the
    widest one, and qualities without a result, are padded with NaN (order: -1).
    """

    matrix: np.ndarray  # (n_channels_max, n_qualities) float64
    order: np.ndarray  # (n_channels_max, n_qualities) int64, -1 where padded
    qualities: tuple[int, ...]

    def column(self, quality: int) -> int | None:
        return self.qualities.index(quality) if quality in self.qualities else None


def latest_by_quality(results: Iterable[QualityResult]) -> dict[int, QualityResult]:
    by_quality: dict[int, QualityResult] = {}
    for result in results:
        by_quality[result.quality] = result
    return by_quality


def channel_heatmap(results: Iterable[QualityResult], qualities: Sequence[int] | None = None) -> ChannelHeatmap:
    """The channels × quality matrix, each column sorted by bits (busiest channel in row 0).

    With `qualities`, the columns are exactly those (plus any result's quality not listed), so
    a view can show all levels from the start and fill columns in as results arrive.
    """
    by_quality = latest_by_quality(results)
    columns = sorted(set(qualities or ()) | set(by_quality))
    rows = max((r.bits_per_channel.shape[0] for r in by_quality.values()), default=0)
    matrix = np.full((rows, len(columns)), np.nan)
    order = np.full((rows, len(columns)), -1, dtype=np.int64)
    for j, quality in enumerate(columns):
        result = by_quality.get(quality)
        if result is None:
            continue
        ranking = channel_ranking(result)
        matrix[: ranking.size, j] = channel_bits_per_element(result)[ranking]
        order[: ranking.size, j] = ranking
    return ChannelHeatmap(matrix, order, tuple(columns))


def spatial_bits(result: QualityResult) -> np.ndarray:
    """(h, w) bits spent at each latent position, summed over all channels."""
    return result.bit_map.sum(axis=0, dtype=np.float64)


def picture_extent(result: QualityResult) -> tuple[float, float, float, float]:
    """(x, y, width, height) of the picture inside the latent grid, in latent squares.

    The encoder pads the picture (centred) to a multiple of 16 pixels (64 in version-1 files),
    so the grid can be a little larger than the picture; a map drawn over this extent has the
    picture's own aspect. The header the encoder wrote says where the picture sits.
    """
    header = result.header
    block = FactorizedPrior.downsampling
    return header.pad_left / block, header.pad_top / block, header.width / block, header.height / block


def channel_map(result: QualityResult, channel: int) -> np.ndarray:
    """(h, w) bits of one latent channel (by its index in the model) at each position."""
    if not 0 <= channel < result.bit_map.shape[0]:
        raise IndexError(f"channel {channel} out of range 0..{result.bit_map.shape[0] - 1}")
    return result.bit_map[channel].astype(np.float64)


def channels_for_half(result: QualityResult) -> int:
    """The fewest channels that together hold at least half of the bits."""
    ordered = np.sort(result.bits_per_channel)[::-1]
    total = float(ordered.sum())
    if total <= 0:
        return 0
    return int(np.searchsorted(np.cumsum(ordered), total / 2) + 1)


def busiest_area_share(result: QualityResult, area: float = 0.25) -> float:
    """Share of all bits spent in the busiest `area` fraction of latent positions."""
    per_position = np.sort(spatial_bits(result).ravel())[::-1]
    total = float(per_position.sum())
    if total <= 0 or per_position.size == 0:
        return 0.0
    count = max(1, round(per_position.size * area))
    return float(per_position[:count].sum()) / total
