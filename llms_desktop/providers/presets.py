"""Ready-made provider settings for well-known services and local servers."""

from __future__ import annotations

from dataclasses import dataclass

from llms_desktop.providers.config import AIREFINERY, OPENAI_COMPATIBLE, ProviderConfig


@dataclass(frozen=True)
class Preset:
    """A template: id, display name, type, base URL and the usual key variable."""

    id: str
    name: str
    type: str
    base_url: str
    api_key_env: str | None
    needs_key: bool = True

    def config(self) -> ProviderConfig:
        return ProviderConfig(
            id=self.id,
            type=self.type,
            name=self.name,
            base_url=self.base_url,
            api_key_env=self.api_key_env,
        )


PRESETS: tuple[Preset, ...] = (
    Preset("openai", "OpenAI", OPENAI_COMPATIBLE, "https://api.openai.com/v1", "OPENAI_API_KEY"),
    Preset(
        "openrouter",
        "OpenRouter",
        OPENAI_COMPATIBLE,
        "https://openrouter.ai/api/v1",
        "OPENROUTER_API_KEY",
    ),
    Preset("groq", "Groq", OPENAI_COMPATIBLE, "https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    Preset("mistral", "Mistral", OPENAI_COMPATIBLE, "https://api.mistral.ai/v1", "MISTRAL_API_KEY"),
    Preset(
        "deepseek",
        "DeepSeek",
        OPENAI_COMPATIBLE,
        "https://api.deepseek.com/v1",
        "DEEPSEEK_API_KEY",
    ),
    Preset(
        "gemini",
        "Google Gemini",
        OPENAI_COMPATIBLE,
        "https://generativelanguage.googleapis.com/v1beta/openai",
        "GEMINI_API_KEY",
    ),
    Preset("ollama", "Ollama", OPENAI_COMPATIBLE, "http://localhost:11434/v1", None, False),
    Preset("lmstudio", "LM Studio", OPENAI_COMPATIBLE, "http://localhost:1234/v1", None, False),
    Preset("llamacpp", "llama.cpp", OPENAI_COMPATIBLE, "http://localhost:8080/v1", None, False),
    Preset("vllm", "vLLM", OPENAI_COMPATIBLE, "http://localhost:8000/v1", "VLLM_API_KEY", False),
    Preset(
        "airefinery",
        "AI Refinery",
        AIREFINERY,
        "https://api.airefinery.accenture.com",
        "AIREFINERY_API_KEY",
    ),
)


def preset(preset_id: str) -> Preset | None:
    """The preset with this id, if any."""
    return next((p for p in PRESETS if p.id == preset_id), None)
