namespace Retro.Engine.Onnx;

/// <summary>The configured ONNX Runtime device cannot run here (e.g. CUDA requested without CUDA 13): the message names what is missing.</summary>
public sealed class OnnxDeviceUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public OnnxDeviceUnavailableException(string message, Exception? inner = null) : base(message, inner) { }
}
