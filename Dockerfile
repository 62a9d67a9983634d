# One image for every service: `vfo run <service>` picks which one a container runs.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY vfo ./vfo
RUN pip install . \
    && useradd --create-home --uid 10001 vfo \
    && python -c "import imageio_ffmpeg, espeakng_loader; imageio_ffmpeg.get_ffmpeg_exe(); espeakng_loader.get_data_path()"

USER vfo
ENV VFO_HOST=0.0.0.0 \
    VFO_DATA_DIR=/home/vfo/data
EXPOSE 8000 9100
ENTRYPOINT ["vfo"]
CMD ["run", "board"]
