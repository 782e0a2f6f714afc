"""Which models take images: the user's word first (per model, then per provider), else what the
model's name says (pure).

The name heuristics know the common vision families (GPT-4o/4.1/5, o1/o3/o4, Claude 3 and
later, Gemini, Gemma 3, Llama 3.2 Vision and Llama 4, LLaVA, Qwen-VL, Pixtral, MiniCPM-V...)
and a few text-only ones; anything else is unknown, and the window asks before sending it an
image (the user may say "always" for that model).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llms_desktop.providers.config import ProviderConfig

_TEXT_ONLY = re.compile(
    r"gpt-3\.5|gpt-4-(0314|0613|32k)|\bo1-mini|\bo3-mini|deepseek-(chat|reasoner|coder|r1|v[23])"
    r"|embed|whisper|\btts\b|codestral|gemma3:?1b|gemma-3-1b|text-|davinci|babbage"
)
_VISION = re.compile(
    r"gpt-4o|gpt-4\.1|gpt-4\.5|gpt-4-turbo|gpt-4-vision|gpt-5|chatgpt-4o|\bo[134](\b|-)"
    r"|claude-3|claude-(opus|sonnet|haiku)-4|claude-[a-z]+-4|claude-4"
    r"|gemini|gemma-?3|gemma3n|llava|bakllava|moondream|minicpm-?v|qwen[0-9.]*-?vl|qvq|pixtral"
    r"|mistral-(small-3\.[12]|medium)|llama-?3\.2.*vision|llama-?4|llama3\.2-vision"
    r"|vision|[-_:]vl(\b|[0-9]|[-_])|internvl|idefics|paligemma|molmo|smolvlm|phi-?3\.5-vision"
    r"|phi-?4-multimodal|grok-4|grok-.*vision|kimi-vl|glm-4\.?[15]?v|granite.*vision|mllama"
)


def guess(model: str) -> bool | None:
    """True when the name is a known vision model, False when known text-only, else None."""
    name = model.lower()
    if _TEXT_ONLY.search(name) and "-vl" not in name and "vision" not in name:
        return False
    if _VISION.search(name):
        return True
    return None


def takes_images(config: ProviderConfig | None, model: str) -> bool | None:
    """Whether `model` of this provider takes images: the per-model setting, the provider's,
    else the name's guess (None: nobody knows)."""
    if config is not None:
        chosen = config.vision_models.get(model)
        if chosen is not None:
            return chosen
        if config.vision is not None:
            return config.vision
    return guess(model)


def warning(model: str, known: bool | None) -> str:
    """What to tell the user before sending an image to a model not known to take it."""
    if known is False:
        return f"The model {model} does not take images, as far as llms-desktop knows."
    return f"The model {model} is not known to take images."
