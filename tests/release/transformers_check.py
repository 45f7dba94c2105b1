"""Loads a daotrain release with Hugging Face transformers, as a downloader would, and reports
what it computes: next-token logits on given windows, a greedy continuation, and the tokenizer's
ids. Reads a JSON request on stdin, writes a JSON answer on stdout.

request: {"model": dir or repo id, "revision": str|None, "cache_dir": str|None,
          "windows": [[id, ...], ...], "prompt": str, "new_tokens": int, "texts": [str, ...]}
"""
import json
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

request = json.load(sys.stdin)
where = {"revision": request.get("revision"), "cache_dir": request.get("cache_dir")}
where = {k: v for k, v in where.items() if v is not None}
model = AutoModelForCausalLM.from_pretrained(request["model"], **where)
tokenizer = AutoTokenizer.from_pretrained(request["model"], **where)
model.eval()

with torch.no_grad():
    windows = torch.tensor(request["windows"], dtype=torch.long)
    logits = model(windows).logits.float()
    prompt = tokenizer(request["prompt"], return_tensors="pt").input_ids
    generated = model.generate(
        prompt,
        attention_mask=torch.ones_like(prompt),
        max_new_tokens=request["new_tokens"],
        do_sample=False,
    )

texts = request.get("texts", [])
json.dump(
    {
        "class": type(model).__name__,
        "tokenizer_class": type(tokenizer).__name__,
        "logits": logits.flatten().tolist(),
        "prompt_ids": prompt[0].tolist(),
        "generated": generated[0, prompt.shape[1]:].tolist(),
        "encoded": [tokenizer(t).input_ids for t in texts],
        "decoded": [tokenizer.decode(tokenizer(t).input_ids) for t in texts],
    },
    sys.stdout,
)
