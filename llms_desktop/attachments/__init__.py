"""Attachments: images for vision models and files sent as text (pure: no Qt, no store).

    model.py      Attachment (bytes and what is sent), the size limits
    images.py     PNG/JPEG/WebP/GIF: sniffed, measured from their headers, downscaled when big
    documents.py  text and code files, PDF text (pypdf)
    reading.py    a path or pasted bytes -> an Attachment
    parts.py      attachments -> OpenAI content parts, and content parts -> attachments
    refusal.py    a provider's 400 about images, said plainly

Nothing is imported here: the session needs only parts.py, and Pillow and pypdf load only when
an image must change or a PDF is read.
"""
