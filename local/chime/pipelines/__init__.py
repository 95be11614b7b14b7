"""The emulated `chime-sdk-media-pipelines` service: media capture pipelines that write real
artifact objects (small but valid media files, meeting events, transcript messages) into an
S3 bucket while the meeting runs, and concatenation pipelines that join them into one object
per kind. See docs/emulator.md, "Media pipelines"."""
