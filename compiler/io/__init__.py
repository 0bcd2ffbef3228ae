"""Networks in and out of torch: checkpoints mapped onto a spec (`weights`),
export to safetensors / TorchScript / ONNX (`export`), and a `torch.nn.Module`
traced with torch.fx into spec text (`module_import`)."""
