"""The Little Baby's Gradio Space: models.py (the models offered), pictures.py (attention
and next-symbol pictures), handlers.py (what each event does), ui.py (the page).

Importing this package turns off what would leave the machine before Gradio or the Hub
client is imported: Gradio's analytics and the Hub client's telemetry.
"""
import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # gradio/analytics.py: anything but "True" is off
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"      # gradio_client and huggingface_hub telemetry
