# safetensors reading and writing (engine work).
