"""The Hugging Face Hub: talking to it (client), models by name and the original's files
(fetch), save_pretrained and push_to_hub (publish), model cards (card), the Space (space_deploy)."""
