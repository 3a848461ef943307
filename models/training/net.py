"""The recogniser network (torch): a small CRNN read by CTC.

Input (N, 3, 32, 96) in [-1, 1]; six 3x3 convolutions with batch norm halve
the height four times and the width once, a (4, 1) convolution folds the
height away, a bidirectional GRU reads the 48 columns, and a linear layer
gives per-timestep logits over blank and the character set. About 0.6 M
weights (2.4 MB as float32), some 120 M multiply-adds per crop.
"""

from __future__ import annotations

import torch
from torch import nn

from models.plate_net import HEIGHT, SYMBOLS, WIDTH


def _conv(cin: int, cout: int) -> list[nn.Module]:
    return [
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    ]


class PlateCRNN(nn.Module):
    def __init__(self, classes: int = len(SYMBOLS), hidden: int = 96) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_conv(3, 32),
            nn.MaxPool2d(2, 2),  # 16 x 48
            *_conv(32, 64),
            *_conv(64, 64),
            nn.MaxPool2d((2, 1), (2, 1)),  # 8 x 48
            *_conv(64, 128),
            nn.MaxPool2d((2, 1), (2, 1)),  # 4 x 48
            *_conv(128, 160),
            nn.Conv2d(160, 192, (HEIGHT // 8, 1), bias=False),  # 1 x 48
            nn.BatchNorm2d(192),
            nn.ReLU(inplace=True),
        )
        self.rnn = nn.GRU(192, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> (N, T, classes) logits."""
        f = self.features(x).squeeze(2).transpose(1, 2)  # N, T, C
        out, _ = self.rnn(f)
        return self.head(out)  # type: ignore[no-any-return]


class Probabilities(nn.Module):
    """The network with a softmax: what is exported and what onnxruntime runs."""

    def __init__(self, net: PlateCRNN) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(x), dim=-1)


TIMESTEPS = WIDTH // 2
