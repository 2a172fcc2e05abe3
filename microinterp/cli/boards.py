"""SRAM and flash of common TinyML boards, and whether a model fits one: `--board NAME` of `plan` and
`inspect`.

Each figure is the vendor's (KB = 1024 bytes), with where it was read (`source`): the vendor's own data
where the search tools reached it (ST's Arduino core, Nordic's device tree, Arm's evaluation kit), else
the datasheet as quoted by a board support page (Zephyr, RIOT, MicroPython).
SRAM is the on-chip total; the TFLM arena must be one contiguous block, so on parts whose SRAM is split
in banks (noted) the usable arena can be smaller. Flash is the on-chip flash, or the board's external
flash for parts without one (noted). A model fits when the 32-bit TFLM arena is at most the SRAM and
the .tflite bytes at most the flash.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import ClassVar

from ..model import Model
from ..planning import MemoryPlan
from ..prepare import prepare_model
from .render import Column, Output, nbytes_text
from .tflm_arena import tflm_figures

_KB, _MB = 1 << 10, 1 << 20


@dataclass(frozen=True)
class Board:
    """One board: its name for --board, what it is, SRAM and flash bytes, and the source of the figures."""
    name: str
    title: str
    sram: int
    flash: int
    source: str
    note: str = ""


BOARDS = (
    Board("nano33ble", "Arduino Nano 33 BLE (nRF52840)", 256 * _KB, 1 * _MB,
          "nRF52840: 1 MB flash and 256 KB RAM (Nordic nRF52840 product page, as quoted by "
          "https://developer.repebble.com/pebbleos/docs/boards/nrf52840dk/ and the Zephyr board docs)"),
    Board("esp32s3", "ESP32-S3-DevKitC-1-N8 (ESP32-S3)", 512 * _KB, 8 * _MB,
          "ESP32-S3: 512 KB SRAM + 384 KB ROM (Espressif datasheet, as quoted by github.com/SoCXin/ESP32-S3); "
          "N8 module: 8 MB external flash (ESP32-S3-DevKitC-1 user guide)",
          note="PSRAM (N8R8: 8 MB) not counted; ESP-IDF uses part of the SRAM itself"),
    Board("stm32f746", "STM32F746 (NUCLEO-F746ZG, 32F746GDISCOVERY)", 320 * _KB, 1 * _MB,
          "NUCLEO-F746ZG: upload.maximum_size=1048576, maximum_data_size=327680 in ST's Arduino core "
          "(github.com/stm32duino/Arduino_Core_STM32, boards.txt)",
          note="SRAM in banks: 64 KB DTCM + 240 KB SRAM1 + 16 KB SRAM2"),
    Board("stm32h743", "STM32H743 (NUCLEO-H743ZI)", 1 * _MB, 2 * _MB,
          "NUCLEO-H743ZI: upload.maximum_size=2097152 and maximum_data_size=524288 (the AXI SRAM) in ST's "
          "Arduino core (github.com/stm32duino/Arduino_Core_STM32, boards.txt); 1 MB in total (64 KB ITCM, "
          "128 KB DTCM, 512 KB AXI SRAM, SRAM1-4) per ST's datasheet as summarised at "
          "https://0xhenry.dev/en/study/stm32-architecture",
          note="largest contiguous bank: 512 KB AXI SRAM"),
    Board("stm32l4r5", "STM32L4R5 (NUCLEO-L4R5ZI)", 640 * _KB, 2 * _MB,
          "NUCLEO-L4R5ZI: upload.maximum_size=2097152, maximum_data_size=655360 in ST's Arduino core "
          "(github.com/stm32duino/Arduino_Core_STM32, boards.txt); SRAM1 192 KB + SRAM2 64 KB + SRAM3 384 KB "
          "(ST DS12023, as quoted by https://x3beche.github.io/stm32l4r5-deck/overview/)"),
    Board("nrf5340", "nRF5340 DK, application core", 512 * _KB, 1 * _MB,
          "nRF5340 application core (QKAA): flash0 1024 KB at 0x0, sram0 512 KB at 0x20000000 in Nordic's "
          "device tree for Zephyr (dts/arm/nordic/nrf5340_cpuapp_qkaa.dtsi, (c) Nordic Semiconductor)",
          note="the network core's own 256 KB flash and 64 KB RAM are not counted"),
    Board("rp2040", "Raspberry Pi Pico (RP2040)", 264 * _KB, 2 * _MB,
          "RP2040: 264 KB SRAM in six banks, no internal flash (https://docs.micropython.org/en/latest/rp2/"
          "general.html, from the RP2040 datasheet); Pico: 2 MB QSPI flash (Raspberry Pi Pico datasheet)",
          note="flash is the Pico's external QSPI flash; SRAM in banks (4 x 64 KB + 2 x 4 KB)"),
    Board("imxrt1060", "i.MX RT1060 EVK (MIMXRT1062)", 1 * _MB, 8 * _MB,
          "MIMXRT1062DVL6A: 1024 KB on-chip memory; EVK: 64 Mbit QSPI flash (https://docs.zephyrproject.org/"
          "4.1.0/boards/nxp/mimxrt1060_evk/doc/index.html)",
          note="flash is the EVK's external QSPI flash (also 512 Mbit HyperFlash); SRAM = 512 KB FlexRAM + "
               "512 KB OCRAM"),
    Board("imxrt1064", "i.MX RT1064 EVK (MIMXRT1064)", 1 * _MB, 4 * _MB,
          "MIMXRT1064DVL6A: 1024 KB on-chip memory, 4096 KB on-chip QSPI flash (https://docs.zephyrproject.org/"
          "3.1.0/boards/arm/mimxrt1064_evk/doc/index.html)"),
    Board("corstone300", "Arm Corstone-300 (Cortex-M55 + Ethos-U55, FVP / MPS3)", 2 * _MB, 256 * _MB,
          "SRAM: 2 banks of 1 MiB at 0x2100_0000, where the Arm ML embedded evaluation kit puts the tensor "
          "arena; model storage: the 256 MiB DDR region at 0x6000_0000 (ml-embedded-evaluation-kit "
          "docs/sections/appendix.md and memory_considerations.md)",
          note="no flash: the evaluation kit reads the model from DDR, counted here as the flash"),
    Board("stm32f412", "STM32F412ZG (NUCLEO-F412ZG)", 256 * _KB, 1 * _MB,
          "STM32F412ZG: 256 KiB RAM, 1 MiB flash (https://doc.riot-os.org/group__boards__nucleo-f412zg.html)"),
    Board("stm32f446", "STM32F446ZE (NUCLEO-F446ZE)", 128 * _KB, 512 * _KB,
          "STM32F446ZE: 128 KiB RAM, 512 KiB flash (https://doc.riot-os.org/group__boards__nucleo-f446ze.html)"),
    Board("stm32f767", "STM32F767ZI (NUCLEO-F767ZI)", 512 * _KB, 2 * _MB,
          "STM32F767ZI: 2 MiB flash, 512 KiB RAM (https://github.com/micropython/micropython/wiki/"
          "Board-Nucleo-F767ZI)"),
)
_BY_NAME = {b.name: b for b in BOARDS}


def find_board(name: str) -> Board:
    """The board called `name` (case, '-' and '_' ignored); ValueError listing the known names."""
    key = name.lower().replace("-", "").replace("_", "")
    if key not in _BY_NAME:
        raise ValueError(f"unknown board {name!r}; known boards: {', '.join(sorted(_BY_NAME))}")
    return _BY_NAME[key]


def tflm_arena_bytes_32bit(model: Model, plan: MemoryPlan, kernels: str = "reference") -> int:
    """The minimal arena_size TFLM needs on a 32-bit Cortex-M for this plan with `kernels`
    (planning/arena_size.py)."""
    return tflm_figures(model, prepare_model(model), plan, kernels).tflm_arena_size_32bit


@dataclass(frozen=True)
class BoardFit:
    """Whether a model fits one board: the arena against SRAM and the model file against flash.
    `limiting` is the resource with the larger share used, and `margin` its bytes to spare (negative:
    over by that many)."""
    board: Board
    arena_bytes: int
    model_bytes: int

    JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("sram_margin", "flash_margin", "fits", "limiting", "margin")

    @property
    def sram_margin(self) -> int:
        """SRAM bytes left beside the arena."""
        return self.board.sram - self.arena_bytes

    @property
    def flash_margin(self) -> int:
        """Flash bytes left beside the model."""
        return self.board.flash - self.model_bytes

    @property
    def fits(self) -> bool:
        """Arena within SRAM and model within flash."""
        return self.sram_margin >= 0 and self.flash_margin >= 0

    @property
    def limiting(self) -> str:
        """"SRAM" or "flash": the one the model uses the larger fraction of."""
        return "SRAM" if self.arena_bytes / self.board.sram >= self.model_bytes / self.board.flash else "flash"

    @property
    def margin(self) -> int:
        """The limiting resource's bytes to spare."""
        return self.sram_margin if self.limiting == "SRAM" else self.flash_margin


def board_fits(names: list[str], model: Model, plan: MemoryPlan, kernels: str = "reference") -> list[BoardFit]:
    """How the model, with this plan and TFLM's `kernels`, fits each named board."""
    if not names:
        return []
    arena = tflm_arena_bytes_32bit(model, plan, kernels)
    return [BoardFit(find_board(name), arena, len(model.content)) for name in names]


def add_board_argument(parser: argparse.ArgumentParser) -> None:
    """--board NAME, repeatable."""
    parser.add_argument("--board", action="append", default=[], metavar="NAME",
                        help=f"check the 32-bit TFLM arena against the board's SRAM and the model against its "
                             f"flash (repeatable): {', '.join(b.name for b in BOARDS)}")


def print_board_fits(fits: list[BoardFit], out: Output) -> None:
    """The boards table: SRAM and flash, arena and model bytes, fit, and the tighter resource's margin."""
    if not fits:
        return
    rows = []
    for f in fits:
        margin = (f"{nbytes_text(f.margin)} spare" if f.margin >= 0 else f"{nbytes_text(-f.margin)} over")
        rows.append([f.board.name, nbytes_text(f.board.sram),
                     nbytes_text(f.board.flash), nbytes_text(f.arena_bytes), nbytes_text(f.model_bytes),
                     "yes" if f.fits else "NO", f"{f.limiting}: {margin}"])
    out.table([Column("board"), Column("SRAM", True), Column("flash", True), Column("TFLM arena (32-bit)", True),
               Column("model", True), Column("fits"), Column("tightest")], rows,
              title="boards (arena = minimal 32-bit TFLM arena_size; model = .tflite bytes)")
    for f in fits:
        if f.board.note:
            out.line(f"  {f.board.name}: {f.board.note}")
