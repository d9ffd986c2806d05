namespace Geo.Radius.Dictionary;

/// <summary>Values of NAS-Port-Type (RFC 2865 §5.41; 20–21 RFC 3580; 30–34 RFC 4603).</summary>
public enum NasPortType
{
    /// <summary>Async.</summary>
    Async = 0,

    /// <summary>Sync.</summary>
    Sync = 1,

    /// <summary>ISDN Sync.</summary>
    Isdn = 2,

    /// <summary>ISDN Async V.120.</summary>
    IsdnV120 = 3,

    /// <summary>ISDN Async V.110.</summary>
    IsdnV110 = 4,

    /// <summary>Virtual (e.g. PPPoE, L2TP).</summary>
    Virtual = 5,

    /// <summary>PIAFS.</summary>
    Piafs = 6,

    /// <summary>HDLC Clear Channel.</summary>
    HdlcClearChannel = 7,

    /// <summary>X.25.</summary>
    X25 = 8,

    /// <summary>X.75.</summary>
    X75 = 9,

    /// <summary>G.3 Fax.</summary>
    G3Fax = 10,

    /// <summary>SDSL.</summary>
    Sdsl = 11,

    /// <summary>ADSL-CAP.</summary>
    AdslCap = 12,

    /// <summary>ADSL-DMT.</summary>
    AdslDmt = 13,

    /// <summary>IDSL.</summary>
    Idsl = 14,

    /// <summary>Ethernet.</summary>
    Ethernet = 15,

    /// <summary>xDSL.</summary>
    Xdsl = 16,

    /// <summary>Cable.</summary>
    Cable = 17,

    /// <summary>Wireless - Other.</summary>
    WirelessOther = 18,

    /// <summary>Wireless - IEEE 802.11.</summary>
    Wireless80211 = 19,

    /// <summary>Token-Ring (RFC 3580).</summary>
    TokenRing = 20,

    /// <summary>FDDI (RFC 3580).</summary>
    Fddi = 21,

    /// <summary>PPPoA (RFC 4603).</summary>
    PppoA = 30,

    /// <summary>PPPoEoA (RFC 4603).</summary>
    PppoEoA = 31,

    /// <summary>PPPoEoE (RFC 4603).</summary>
    PppoEoE = 32,

    /// <summary>PPPoEoVLAN (RFC 4603).</summary>
    PppoEoVlan = 33,

    /// <summary>PPPoEoQinQ (RFC 4603).</summary>
    PppoEoQinQ = 34,
}
