using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Geo.Radius.Dictionary;
using Geo.Radius.Security;

namespace Geo.Radius;

/// <summary>
/// Builds one RADIUS packet into a span or an <see cref="IBufferWriter{T}"/>; <see cref="FinishRequest"/> or
/// <see cref="FinishResponse(ReadOnlySpan{byte}, ReadOnlySpan{byte})"/> signs the Message-Authenticator before the authenticator that covers it.
/// </summary>
/// <remarks>Fed the host's own data, so misuse (value over 253 octets, packet over 4096) throws; nothing is committed until finished.</remarks>
public ref struct RadiusPacketWriter
{
    private readonly Span<byte> _buffer;
    private readonly IBufferWriter<byte>? _output;
    private int _length;
    private int _messageAuthenticatorOffset;
    private bool _finished;

    /// <summary>
    /// Starts a packet in <paramref name="destination"/> (at least 20 octets; at most 4096 are used). An
    /// Access-Request or Status-Server gets a random Request Authenticator from <see cref="RandomNumberGenerator"/>;
    /// other codes get theirs when finished.
    /// </summary>
    public RadiusPacketWriter(Span<byte> destination, RadiusCode code, byte identifier)
        : this(destination, code, identifier, default, null)
    {
    }

    /// <summary>
    /// Starts a packet in <paramref name="destination"/> with the given 16-octet <paramref name="authenticator"/> in
    /// the header (the Request Authenticator of an Access-Request, which User-Password hiding uses).
    /// </summary>
    public RadiusPacketWriter(Span<byte> destination, RadiusCode code, byte identifier, scoped ReadOnlySpan<byte> authenticator)
        : this(destination, code, identifier, authenticator, null)
    {
        if (authenticator.Length != RadiusWire.AuthenticatorLength)
        {
            throw new ArgumentException("An authenticator is 16 octets.", nameof(authenticator));
        }
    }

    private RadiusPacketWriter(Span<byte> destination, RadiusCode code, byte identifier, scoped ReadOnlySpan<byte> authenticator, IBufferWriter<byte>? output)
    {
        if (destination.Length < RadiusWire.HeaderLength)
        {
            throw new ArgumentException("A RADIUS packet needs at least 20 octets.", nameof(destination));
        }

        _buffer = destination.Length > RadiusWire.MaxPacketLength ? destination[..RadiusWire.MaxPacketLength] : destination;
        _output = output;
        _length = RadiusWire.HeaderLength;
        _messageAuthenticatorOffset = -1;
        _finished = false;

        _buffer[0] = (byte)code;
        _buffer[1] = identifier;
        var field = _buffer.Slice(RadiusWire.AuthenticatorOffset, RadiusWire.AuthenticatorLength);
        if (authenticator.Length == RadiusWire.AuthenticatorLength)
        {
            authenticator.CopyTo(field);
        }
        else if (code is RadiusCode.AccessRequest or RadiusCode.StatusServer)
        {
            RandomNumberGenerator.Fill(field);
        }
        else
        {
            field.Clear();
        }
    }

    /// <summary>The packet length so far (the whole packet once finished).</summary>
    public readonly int Length => _length;

    /// <summary>How many octets can still be added before the packet reaches 4096 or the buffer ends.</summary>
    public readonly int RemainingCapacity => _buffer.Length - _length;

    /// <summary>The packet's Code.</summary>
    public readonly RadiusCode Code => (RadiusCode)_buffer[0];

    /// <summary>The Authenticator field as it stands (final once the packet is finished).</summary>
    public readonly ReadOnlySpan<byte> Authenticator => _buffer.Slice(RadiusWire.AuthenticatorOffset, RadiusWire.AuthenticatorLength);

    /// <summary>The octets written so far; after finishing, the packet.</summary>
    public readonly ReadOnlySpan<byte> WrittenSpan => _buffer[.._length];

    /// <summary>Starts a packet in <paramref name="output"/>; it is advanced when the packet is finished.</summary>
    public static RadiusPacketWriter Create(IBufferWriter<byte> output, RadiusCode code, byte identifier)
    {
        ArgumentNullException.ThrowIfNull(output);
        return new RadiusPacketWriter(output.GetSpan(RadiusWire.MaxPacketLength), code, identifier, default, output);
    }

    /// <summary>Starts a packet in <paramref name="output"/> with the given 16-octet <paramref name="authenticator"/>.</summary>
    public static RadiusPacketWriter Create(IBufferWriter<byte> output, RadiusCode code, byte identifier, scoped ReadOnlySpan<byte> authenticator)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (authenticator.Length != RadiusWire.AuthenticatorLength)
        {
            throw new ArgumentException("An authenticator is 16 octets.", nameof(authenticator));
        }

        return new RadiusPacketWriter(output.GetSpan(RadiusWire.MaxPacketLength), code, identifier, authenticator, output);
    }

    /// <summary>Adds an attribute with a raw value of at most 253 octets.</summary>
    public void AddAttribute(byte type, scoped ReadOnlySpan<byte> value) => value.CopyTo(Reserve(type, value.Length, nameof(value)));

    /// <summary>Adds a text attribute, encoded as UTF-8 (at most 253 octets).</summary>
    public void AddString(byte type, scoped ReadOnlySpan<char> value) =>
        Encoding.UTF8.GetBytes(value, Reserve(type, Encoding.UTF8.GetByteCount(value), nameof(value)));

    /// <summary>Adds a 32-bit integer attribute, most significant octet first.</summary>
    public void AddUInt32(byte type, uint value) => BinaryPrimitives.WriteUInt32BigEndian(Reserve(type, sizeof(uint), nameof(value)), value);

    /// <summary>Adds an IPv4 address attribute.</summary>
    public void AddIPv4Address(byte type, IPAddress address)
    {
        EnsureIPv4(address);
        address.TryWriteBytes(Reserve(type, 4, nameof(address)), out _);
    }

    /// <summary>Adds a time attribute: seconds since 1970-01-01 00:00:00 UTC.</summary>
    public void AddTime(byte type, DateTimeOffset time) => AddUInt32(type, ToRadiusTime(time));

    /// <summary>Adds a Vendor-Specific attribute holding one sub-attribute (RFC 2865 §5.26) of at most 247 octets.</summary>
    public void AddVendorAttribute(uint vendorId, byte vendorType, scoped ReadOnlySpan<byte> value) =>
        value.CopyTo(ReserveVendor(vendorId, vendorType, value.Length, nameof(value)));

    /// <summary>Adds a Vendor-Specific text sub-attribute, encoded as UTF-8 (at most 247 octets).</summary>
    public void AddVendorString(uint vendorId, byte vendorType, scoped ReadOnlySpan<char> value) =>
        Encoding.UTF8.GetBytes(value, ReserveVendor(vendorId, vendorType, Encoding.UTF8.GetByteCount(value), nameof(value)));

    /// <summary>Adds a Vendor-Specific 32-bit integer sub-attribute.</summary>
    public void AddVendorUInt32(uint vendorId, byte vendorType, uint value) =>
        BinaryPrimitives.WriteUInt32BigEndian(ReserveVendor(vendorId, vendorType, sizeof(uint), nameof(value)), value);

    /// <summary>Adds a Vendor-Specific IPv4 address sub-attribute.</summary>
    public void AddVendorIPv4Address(uint vendorId, byte vendorType, IPAddress address)
    {
        EnsureIPv4(address);
        address.TryWriteBytes(ReserveVendor(vendorId, vendorType, 4, nameof(address)), out _);
    }

    /// <summary>
    /// Adds <paramref name="value"/> split over as many attributes of <paramref name="type"/> as it needs, 253
    /// octets each, in order: how an EAP-Message larger than one attribute is carried (RFC 3579 §3.1). An empty
    /// value adds nothing.
    /// </summary>
    public void AddConcatenated(byte type, scoped ReadOnlySpan<byte> value)
    {
        int attributes = (value.Length + RadiusWire.MaxAttributeValueLength - 1) / RadiusWire.MaxAttributeValueLength;
        if ((attributes * RadiusWire.AttributeHeaderLength) + value.Length > RemainingCapacity)
        {
            throw new InvalidOperationException("The attributes would make the packet longer than its buffer or 4096 octets.");
        }

        while (!value.IsEmpty)
        {
            int chunk = Math.Min(value.Length, RadiusWire.MaxAttributeValueLength);
            AddAttribute(type, value[..chunk]);
            value = value[chunk..];
        }
    }

    /// <summary>
    /// Adds the Message-Authenticator, computed when the packet is finished (RFC 2869 §5.14). Adding it first
    /// is what RADIUS servers now do so that a forged prefix cannot precede it.
    /// </summary>
    public void AddMessageAuthenticator()
    {
        if (_messageAuthenticatorOffset >= 0)
        {
            throw new InvalidOperationException("The packet already has a Message-Authenticator.");
        }

        var value = Reserve(RadiusAttributeType.MessageAuthenticator, RadiusWire.MessageAuthenticatorValueLength, nameof(RadiusAttributeType.MessageAuthenticator));
        value.Clear();
        _messageAuthenticatorOffset = _length - RadiusWire.MessageAuthenticatorValueLength;
    }

    /// <summary>
    /// Adds a User-Password hidden with <paramref name="secret"/> and the Request Authenticator already in the
    /// header (RFC 2865 §5.2). Passwords may be 0 to 128 octets.
    /// </summary>
    public void AddUserPassword(scoped ReadOnlySpan<byte> password, scoped ReadOnlySpan<byte> secret)
    {
        if (password.Length > UserPassword.MaxPasswordLength)
        {
            throw new ArgumentException("A User-Password is at most 128 octets.", nameof(password));
        }

        var value = Reserve(RadiusAttributeType.UserPassword, UserPassword.GetHiddenLength(password.Length), nameof(password));
        UserPassword.TryHide(password, secret, Authenticator, value, out _);
    }

    /// <summary>
    /// Copies every attribute of <paramref name="type"/> from <paramref name="source"/>, in order: a response must
    /// carry the request's Proxy-State attributes unchanged (RFC 2865 §5.33).
    /// </summary>
    public void CopyAttributes(RadiusPacket source, byte type)
    {
        foreach (var attribute in source.Attributes)
        {
            if (attribute.Type == type)
            {
                AddAttribute(type, attribute.Value);
            }
        }
    }

    /// <summary>
    /// Finishes a request; returns its length. Access-Request and Status-Server (RFC 5997 §3: one added if missing) get the
    /// Message-Authenticator over their random Request Authenticator; Accounting, Disconnect and CoA get it over 16 zeros,
    /// then MD5(Code + Identifier + Length + 16 zeros + Attributes + Secret).
    /// </summary>
    public int FinishRequest(scoped ReadOnlySpan<byte> secret)
    {
        if (Code == RadiusCode.StatusServer && _messageAuthenticatorOffset < 0 && !_finished)
        {
            AddMessageAuthenticator();
        }

        var packet = Seal();
        var field = packet.Slice(RadiusWire.AuthenticatorOffset, RadiusWire.AuthenticatorLength);
        if (Code.HasComputedRequestAuthenticator())
        {
            field.Clear();
            SignMessageAuthenticator(packet, RadiusWire.ZeroAuthenticator, secret);
            RadiusHash.PacketDigest(packet, RadiusWire.ZeroAuthenticator, secret, field);
        }
        else
        {
            SignMessageAuthenticator(packet, field, secret);
        }

        return Complete();
    }

    /// <summary>
    /// Finishes a response; returns its length. The Message-Authenticator is computed with <paramref name="requestAuthenticator"/>
    /// in the field (RFC 3579 §3.2), then MD5(Code + Identifier + Length + RequestAuth + Attributes + Secret) replaces it.
    /// </summary>
    public int FinishResponse(scoped ReadOnlySpan<byte> requestAuthenticator, scoped ReadOnlySpan<byte> secret)
    {
        if (requestAuthenticator.Length != RadiusWire.AuthenticatorLength)
        {
            throw new ArgumentException("A Request Authenticator is 16 octets.", nameof(requestAuthenticator));
        }

        var packet = Seal();
        var field = packet.Slice(RadiusWire.AuthenticatorOffset, RadiusWire.AuthenticatorLength);
        requestAuthenticator.CopyTo(field);
        SignMessageAuthenticator(packet, requestAuthenticator, secret);
        RadiusHash.PacketDigest(packet, requestAuthenticator, secret, field);
        return Complete();
    }

    /// <summary>Finishes a response to <paramref name="request"/>; see <see cref="FinishResponse(ReadOnlySpan{byte}, ReadOnlySpan{byte})"/>.</summary>
    public int FinishResponse(RadiusPacket request, scoped ReadOnlySpan<byte> secret) => FinishResponse(request.Authenticator, secret);

    private Span<byte> Reserve(byte type, int valueLength, string parameterName)
    {
        EnsureNotFinished();
        if (valueLength > RadiusWire.MaxAttributeValueLength)
        {
            throw new ArgumentException("An attribute value is at most 253 octets.", parameterName);
        }

        int total = RadiusWire.AttributeHeaderLength + valueLength;
        if (total > RemainingCapacity)
        {
            throw new InvalidOperationException("The attribute would make the packet longer than its buffer or 4096 octets.");
        }

        var attribute = _buffer.Slice(_length, total);
        attribute[0] = type;
        attribute[1] = (byte)total;
        _length += total;
        return attribute[RadiusWire.AttributeHeaderLength..];
    }

    private Span<byte> ReserveVendor(uint vendorId, byte vendorType, int valueLength, string parameterName)
    {
        if (valueLength > RadiusWire.MaxVendorValueLength)
        {
            throw new ArgumentException("A vendor attribute value is at most 247 octets.", parameterName);
        }

        var value = Reserve(RadiusAttributeType.VendorSpecific, RadiusWire.VendorIdLength + RadiusWire.AttributeHeaderLength + valueLength, parameterName);
        BinaryPrimitives.WriteUInt32BigEndian(value, vendorId);
        value[RadiusWire.VendorIdLength] = vendorType;
        value[RadiusWire.VendorIdLength + 1] = (byte)(RadiusWire.AttributeHeaderLength + valueLength);
        return value[(RadiusWire.VendorIdLength + RadiusWire.AttributeHeaderLength)..];
    }

    private readonly void SignMessageAuthenticator(Span<byte> packet, scoped ReadOnlySpan<byte> authenticator, scoped ReadOnlySpan<byte> secret)
    {
        if (_messageAuthenticatorOffset >= 0)
        {
            RadiusHash.MessageAuthenticator(
                packet,
                authenticator,
                _messageAuthenticatorOffset,
                secret,
                packet.Slice(_messageAuthenticatorOffset, RadiusWire.MessageAuthenticatorValueLength));
        }
    }

    private readonly Span<byte> Seal()
    {
        EnsureNotFinished();
        var packet = _buffer[.._length];
        BinaryPrimitives.WriteUInt16BigEndian(packet[RadiusWire.LengthOffset..], (ushort)_length);
        return packet;
    }

    private int Complete()
    {
        _finished = true;
        _output?.Advance(_length);
        return _length;
    }

    private readonly void EnsureNotFinished()
    {
        if (_finished)
        {
            throw new InvalidOperationException("The packet is already finished.");
        }
    }

    private static void EnsureIPv4(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new ArgumentException("The address is not an IPv4 address.", nameof(address));
        }
    }

    private static uint ToRadiusTime(DateTimeOffset time)
    {
        long seconds = time.ToUnixTimeSeconds();
        if (seconds is < 0 or > uint.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(time), time, "A RADIUS time is 1970-01-01 to 2106-02-07 UTC.");
        }

        return (uint)seconds;
    }
}
