"""Year in review: an MP4 of a user's POCs over a period, drawn with Pillow and encoded by ffmpeg."""

from media.video.render import render_video
from media.video.spec import Period, VideoResult, VideoSpec, select_pocs

__all__ = ["Period", "VideoResult", "VideoSpec", "render_video", "select_pocs"]
