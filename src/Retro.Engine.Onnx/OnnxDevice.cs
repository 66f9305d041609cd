namespace Retro.Engine.Onnx;

/// <summary>The ONNX Runtime execution provider the sessions run on (<c>Retro:Engine:Device</c>).</summary>
public enum OnnxDevice
{
    /// <summary>The CPU execution provider (always present).</summary>
    Cpu,

    /// <summary>The CUDA execution provider: needs the GPU build of ONNX Runtime and CUDA 13 with cuDNN 9.</summary>
    Cuda,
}
