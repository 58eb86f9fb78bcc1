"""RFDN in PyTorch, laid out as the official code (github.com/njulj/RFDN, RFDN.py and block.py).

The reference that ``benchmarks/peers.py`` checks ``sr_keras``' RFDN against: the same modules,
attribute names and forward passes as the official ``RFDN``, ``RFDB`` and ``ESA`` (so the
``state_dict`` keys are the official ones: ``fea_conv``, ``B1.c1_d``, ``B1.esa.conv2``, ``c.0``,
``LR_conv``, ``upsampler.0``...), written here rather than imported. One deliberate difference:
the official ``RFDN.__init__`` builds its upsampler with ``upscale_factor=4`` whatever its
``upscale`` argument; here ``upscale`` is used, so x2 and x3 follow the same layout. Inputs must
be at least 15x15, as in the official model (ESA's strided branch needs 7 pixels for its 7x7 max
pool). Benchmark-only dependency: ``pip install torch==2.13.0``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

NEGATIVE_SLOPE = 0.05


def conv_layer(in_channels: int, out_channels: int, kernel_size: int) -> nn.Conv2d:
    """The official ``conv_layer``: stride 1, zero padding ``(kernel_size - 1) // 2``, bias."""
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=(kernel_size - 1) // 2)


class ESA(nn.Module):
    """Enhanced spatial attention: ``x`` times a sigmoid mask from a strided, pooled branch."""

    def __init__(self, n_feats: int):
        super().__init__()
        f = n_feats // 4
        self.conv1 = nn.Conv2d(n_feats, f, kernel_size=1)
        self.conv_f = nn.Conv2d(f, f, kernel_size=1)
        self.conv_max = nn.Conv2d(f, f, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(f, f, kernel_size=3, stride=2, padding=0)
        self.conv3 = nn.Conv2d(f, f, kernel_size=3, padding=1)
        self.conv3_ = nn.Conv2d(f, f, kernel_size=3, padding=1)
        self.conv4 = nn.Conv2d(f, n_feats, kernel_size=1)
        self.sigmoid = nn.Sigmoid()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        c1_ = self.conv1(x)
        c1 = self.conv2(c1_)
        v_max = functional.max_pool2d(c1, kernel_size=7, stride=3)
        v_range = self.relu(self.conv_max(v_max))
        c3 = self.relu(self.conv3(v_range))
        c3 = self.conv3_(c3)
        c3 = functional.interpolate(c3, x.shape[2:], mode="bilinear", align_corners=False)
        cf = self.conv_f(c1_)
        c4 = self.conv4(c3 + cf)
        return x * self.sigmoid(c4)


class RFDB(nn.Module):
    """Residual feature distillation block: three 1x1 distillations beside 3x3 residual
    refinements, a last 3x3 (``c4``), a 1x1 fusion of the four (``c5``), then ESA."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.dc = in_channels // 2
        self.rc = in_channels
        self.c1_d = conv_layer(in_channels, self.dc, 1)
        self.c1_r = conv_layer(in_channels, self.rc, 3)
        self.c2_d = conv_layer(self.rc, self.dc, 1)
        self.c2_r = conv_layer(self.rc, self.rc, 3)
        self.c3_d = conv_layer(self.rc, self.dc, 1)
        self.c3_r = conv_layer(self.rc, self.rc, 3)
        self.c4 = conv_layer(self.rc, self.dc, 3)
        self.act = nn.LeakyReLU(NEGATIVE_SLOPE, inplace=True)
        self.c5 = conv_layer(self.dc * 4, in_channels, 1)
        self.esa = ESA(in_channels)

    def forward(self, input):
        distilled_c1 = self.act(self.c1_d(input))
        r_c1 = self.act(self.c1_r(input) + input)
        distilled_c2 = self.act(self.c2_d(r_c1))
        r_c2 = self.act(self.c2_r(r_c1) + r_c1)
        distilled_c3 = self.act(self.c3_d(r_c2))
        r_c3 = self.act(self.c3_r(r_c2) + r_c2)
        r_c4 = self.act(self.c4(r_c3))
        out = torch.cat([distilled_c1, distilled_c2, distilled_c3, r_c4], dim=1)
        return self.esa(self.c5(out))


def pixelshuffle_block(in_channels: int, out_channels: int, upscale_factor: int) -> nn.Sequential:
    """The official upsampler: a 3x3 conv to ``out_channels * upscale_factor**2``, one shuffle."""
    conv = conv_layer(in_channels, out_channels * upscale_factor**2, 3)
    return nn.Sequential(conv, nn.PixelShuffle(upscale_factor))


class RFDN(nn.Module):
    """The official RFDN (``in_nc=3, nf=50, num_modules=4, out_nc=3``), NCHW."""

    def __init__(self, in_nc=3, nf=50, num_modules=4, out_nc=3, upscale=4):
        super().__init__()
        self.fea_conv = conv_layer(in_nc, nf, 3)
        self.B1 = RFDB(nf)
        self.B2 = RFDB(nf)
        self.B3 = RFDB(nf)
        self.B4 = RFDB(nf)
        self.c = nn.Sequential(
            nn.Conv2d(nf * num_modules, nf, kernel_size=1),
            nn.LeakyReLU(NEGATIVE_SLOPE, inplace=True),
        )
        self.LR_conv = conv_layer(nf, nf, 3)
        self.upsampler = pixelshuffle_block(nf, out_nc, upscale_factor=upscale)

    def forward(self, input):
        out_fea = self.fea_conv(input)
        out_B1 = self.B1(out_fea)
        out_B2 = self.B2(out_B1)
        out_B3 = self.B3(out_B2)
        out_B4 = self.B4(out_B3)
        out_B = self.c(torch.cat([out_B1, out_B2, out_B3, out_B4], dim=1))
        out_lr = self.LR_conv(out_B) + out_fea
        return self.upsampler(out_lr)
