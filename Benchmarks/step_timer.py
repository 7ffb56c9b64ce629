"""Per-step seconds of a diffusers-style pipeline call (diffusers or optimum-intel's OpenVINO
pipelines), for the benchmark suite's render lines, measured as `kiln render`'s KILN_TIMINGS
measures Kiln's: setup (the process's start to the first step), each step, decode (the last
step to the saved image).

    timer = StepTimer(process_start, pipe)
    pipe(..., callback_on_step_end=timer.step_end)
    ... save the image ...
    result.update(timer.times())

A step starts at the scheduler's first `scale_model_input` of the call (just before the first
UNet call; each later step starts where the one before ended) and ends at
`callback_on_step_end`.
"""
import time


class StepTimer:
    def __init__(self, process_start, pipe):
        self.process_start = process_start
        self.first_step_start = None
        self.ends = []
        scale = pipe.scheduler.scale_model_input

        def timed_scale(*args, **kwargs):
            if self.first_step_start is None:
                self.first_step_start = time.perf_counter()
            return scale(*args, **kwargs)

        pipe.scheduler.scale_model_input = timed_scale

    def step_end(self, pipe, step, timestep, callback_kwargs):
        self.ends.append(time.perf_counter())
        return {}

    def times(self):
        """setup_seconds, step_seconds and decode_seconds (call after the image is saved)."""
        if self.first_step_start is None or not self.ends:
            return {}
        marks = [self.first_step_start] + self.ends
        return {"setup_seconds": self.first_step_start - self.process_start,
                "step_seconds": [b - a for a, b in zip(marks, marks[1:])],
                "decode_seconds": time.perf_counter() - self.ends[-1]}
