"""From a flat plate to a crop as a camera and a plate finder deliver it.

The plate is warped into a crop (perspective, a turn, the crop's margin and
resolution), on a background of car body, and then degraded: lighting and
shadow, blur, noise, dirt and JPEG. Chinese crops are cut tight, as the
LPRNet crops are; others keep some of the plate's surroundings.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from models.training.manifest import Box

Rng = np.random.Generator
Image = npt.NDArray[np.uint8]


def _background(rng: Rng, height: int, width: int) -> Image:
    base = rng.integers(0, 256, size=3).astype(np.float32)
    grad = np.linspace(rng.uniform(0.6, 1.1), rng.uniform(0.6, 1.1), height, dtype=np.float32)
    img = base[None, None, :] * grad[:, None, None] * np.ones((height, width, 1), np.float32)
    img += rng.normal(0, rng.uniform(2, 20), size=(height, width, 1)).astype(np.float32)
    out: Image = np.clip(img, 0, 255).astype(np.uint8)
    return out


def place(plate_rgb: Image, rng: Rng, tight: bool) -> Image:
    """The plate (RGB) warped into a BGR crop at a random resolution and framing."""
    ph, pw = plate_rgb.shape[:2]
    out_h = int(rng.integers(18, 72)) if tight else int(rng.integers(28, 110))
    margin_x = rng.uniform(-0.02, 0.05) if tight else rng.uniform(-0.01, 0.06)
    margin_y = rng.uniform(-0.03, 0.1) if tight else rng.uniform(-0.01, 0.08)
    # Plate finders and datasets also stretch crops (160x80 crops of 3:1 plates).
    stretch = rng.uniform(0.9, 1.1) if tight or rng.random() < 0.7 else rng.uniform(0.6, 0.9)
    aspect = pw / ph * (1 + 2 * margin_x) / (1 + 2 * margin_y) * stretch
    out_w = max(8, round(out_h * aspect))
    # The plate's corners in the crop, then moved at random (perspective and a turn).
    x0, x1 = out_w * margin_x / (1 + 2 * margin_x), out_w * (1 + margin_x) / (1 + 2 * margin_x)
    y0, y1 = out_h * margin_y / (1 + 2 * margin_y), out_h * (1 + margin_y) / (1 + 2 * margin_y)
    dst = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32)
    jitter = np.array([out_w, out_h], np.float32) * (0.04 if tight else 0.07)
    dst += rng.uniform(-1, 1, size=(4, 2)).astype(np.float32) * jitter
    angle = np.deg2rad(rng.uniform(-5, 5))
    centre = dst.mean(axis=0)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], np.float32)
    dst = (dst - centre) @ rot.T + centre
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    bgr = np.ascontiguousarray(plate_rgb[:, :, ::-1])
    crop = _background(rng, out_h, out_w)
    warped = cv2.warpPerspective(bgr, matrix, (out_w, out_h), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), matrix, (out_w, out_h))
    alpha = (mask.astype(np.float32) / 255.0)[:, :, None]
    return (warped * alpha + crop * (1 - alpha)).astype(np.uint8)


def degrade(img: Image, rng: Rng, strength: float = 1.0) -> Image:
    """Lighting, shadow, dirt, blur, noise and JPEG, each at random (``strength`` scales them)."""
    out = img.astype(np.float32)
    h, w = out.shape[:2]
    out = (
        out * rng.uniform(1 - 0.5 * strength, 1 + 0.3 * strength) + rng.uniform(-40, 40) * strength
    )
    out *= rng.uniform(1 - 0.15 * strength, 1 + 0.15 * strength, size=3).astype(np.float32)
    if rng.random() < 0.3 * strength:  # a shadow edge across the plate
        xs = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
        ys = np.linspace(-1, 1, h, dtype=np.float32)[:, None]
        edge = (xs * rng.normal() + ys * rng.normal() + rng.normal() * 0.5) > 0
        out[edge] *= rng.uniform(0.35, 0.8)
    if rng.random() < 0.3 * strength:  # dirt
        for _ in range(int(rng.integers(1, 6))):
            cx, cy = int(rng.integers(w)), int(rng.integers(h))
            r = max(1, int(rng.uniform(0.02, 0.12) * h))
            blot = np.zeros((h, w), np.uint8)
            cv2.circle(blot, (cx, cy), r, 255, -1)
            a = (blot.astype(np.float32) / 255.0 * rng.uniform(0.2, 0.7))[:, :, None]
            out = out * (1 - a) + np.float32(rng.uniform(30, 120)) * a
    gamma = rng.uniform(1 - 0.3 * strength, 1 + 0.4 * strength)
    out = 255.0 * (np.clip(out, 0, 255) / 255.0) ** gamma
    img = np.clip(out, 0, 255).astype(np.uint8)
    blur = rng.random()
    if blur < 0.35 * strength:
        sigma = rng.uniform(0.3, 1.4) * max(1.0, h / 40)
        img = np.asarray(cv2.GaussianBlur(img, (0, 0), sigma), dtype=np.uint8)
    elif blur < 0.5 * strength:
        k = int(rng.integers(2, 5))
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2, :] = 1.0 / k
        img = np.asarray(cv2.filter2D(img, -1, kernel), dtype=np.uint8)
    if rng.random() < 0.7 * strength:
        noise = rng.normal(0, rng.uniform(1, 12) * strength, size=img.shape)
        img = np.clip(img + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.6 * strength:
        quality = int(rng.integers(15, 95))
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            img = np.asarray(cv2.imdecode(buf, cv2.IMREAD_COLOR), dtype=np.uint8)
    return img


def cut(frame: Image, box: Box, rng: Rng) -> Image:
    """The labelled box of a real frame, its edges moved a little (a plate finder's error)."""
    x1, y1, x2, y2 = box
    bw, bh = max(1, x2 - x1), max(1, y2 - y1)
    dx = rng.uniform(-0.04, 0.08, size=2) * bw
    dy = rng.uniform(-0.08, 0.15, size=2) * bh
    fh, fw = frame.shape[:2]
    left, right = int(max(0, x1 - dx[0])), int(min(fw, x2 + dx[1]))
    top, bottom = int(max(0, y1 - dy[0])), int(min(fh, y2 + dy[1]))
    if right - left < 4 or bottom - top < 4:
        return frame[max(0, y1) : max(y1 + 1, y2), max(0, x1) : max(x1 + 1, x2)]
    return frame[top:bottom, left:right]
