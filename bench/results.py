"""What a bench run produces: sections of figures, each named with its peer or limit."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Figure(BaseModel):
    """One measured figure next to the peer or physical limit it is judged against."""

    name: str
    value: float | None = Field(description="Warden's figure (None: not measured)")
    unit: str
    peer: str = Field(description="what the figure is compared with, and whether peer or limit")
    peer_value: float | None = None
    ratio: float | None = Field(None, description="the figure that the goal is stated in")
    ratio_label: str = ""
    goal: str | None = None
    met: bool | None = None


class Curve(BaseModel):
    """One growth curve for a chart: y measured at each x, same units throughout."""

    label: str
    x: list[float]
    y: list[float]


class Chart(BaseModel):
    """A chart the report draws from the run's curves."""

    file: str
    title: str
    x_label: str
    y_label: str
    curves: list[Curve]
    log_x: bool = False
    log_y: bool = False
    hline: float | None = Field(None, description="a limit drawn across the chart (e.g. 3 s)")
    hline_label: str = ""


Status = Literal["measured", "partial", "not measured"]


class Section(BaseModel):
    """One numbered item of issue 8."""

    key: str
    title: str
    status: Status = "measured"
    reason: str | None = Field(None, description="why (part of) it was not measured")
    seconds: float = 0.0
    figures: list[Figure] = Field(default_factory=list)
    charts: list[Chart] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    data: dict[str, Any] = Field(default_factory=dict, description="raw detail behind the figures")

    def not_measured(self, reason: str) -> Section:
        self.status = "not measured"
        self.reason = reason
        return self


class Machine(BaseModel):
    cpu_count: int | None
    load_avg_1m: float | None
    python: str
    torch_threads: int | None = None


class BenchResults(BaseModel):
    started_at: str
    finished_at: str = ""
    seconds: float = 0.0
    quick: bool
    command: str
    machine: Machine
    sections: list[Section] = Field(default_factory=list)
