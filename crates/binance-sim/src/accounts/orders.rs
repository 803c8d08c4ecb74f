//! A user order as the accounts keep it, and the money it moves: what it
//! holds while it rests, what each fill pays and receives.

use std::collections::{BTreeMap, HashMap};

use rust_decimal::Decimal;

use super::spec::Wallet;
use crate::engine::{Fill, OrderType, Side};

/// One wallet's balances: asset → (free, locked).
pub(super) type Balances = BTreeMap<String, (Decimal, Decimal)>;

/// An account's wallets.
pub(super) type Wallets = HashMap<Wallet, Balances>;

/// The (free, locked) of an asset in a wallet, made when missing.
pub(super) fn balance<'a>(
    wallets: &'a mut Wallets,
    wallet: &Wallet,
    asset: &str,
) -> &'a mut (Decimal, Decimal) {
    wallets
        .entry(wallet.clone())
        .or_default()
        .entry(asset.to_owned())
        .or_default()
}

/// A user order resting on a book (or being placed).
#[derive(Clone)]
pub(super) struct UserOrder {
    pub account: usize,
    pub wallet: Wallet,
    pub symbol: String,
    pub base: String,
    pub quote: String,
    pub client_order_id: String,
    pub side: Side,
    /// Market, limit (with its time in force) or limit maker.
    pub kind: OrderType,
    pub qty: Decimal,
    pub filled: Decimal,
    pub quote_filled: Decimal,
    pub created: u64,
    /// Still locked for this order: quote for buys, base for sells.
    pub reserved: Decimal,
}

impl UserOrder {
    /// The limit price (zero for market orders, as Binance writes them).
    pub fn price(&self) -> Decimal {
        self.kind.price().unwrap_or_default()
    }

    /// The asset it locks: quote for buys, base for sells.
    pub fn locked_asset(&self) -> &str {
        match self.side {
            Side::Buy => &self.quote,
            Side::Sell => &self.base,
        }
    }

    /// The asset its fills' commission would be in: what it receives.
    pub fn received_asset(&self) -> &str {
        match self.side {
            Side::Buy => &self.base,
            Side::Sell => &self.quote,
        }
    }

    /// Filled completely.
    pub fn done(&self) -> bool {
        self.filled >= self.qty
    }

    /// Move the funds of one fill in the owner's wallets.
    pub fn settle(&mut self, wallets: &mut Wallets, fill: &Fill) {
        self.filled += fill.qty;
        self.quote_filled += fill.quote_qty;
        let wallet = wallets.entry(self.wallet.clone()).or_default();
        match self.side {
            Side::Buy => {
                // Limit buys reserved the limit price; market buys the estimated cost.
                let used = match self.kind {
                    OrderType::Market => fill.quote_qty.min(self.reserved),
                    _ => (self.price() * fill.qty).min(self.reserved),
                };
                self.reserved -= used;
                let quote = wallet.entry(self.quote.clone()).or_default();
                quote.1 -= used;
                quote.0 += used - fill.quote_qty;
                wallet.entry(self.base.clone()).or_default().0 += fill.qty;
            }
            Side::Sell => {
                self.reserved -= fill.qty;
                wallet.entry(self.base.clone()).or_default().1 -= fill.qty;
                wallet.entry(self.quote.clone()).or_default().0 += fill.quote_qty;
            }
        }
    }

    /// Unlock what the order still holds (it left the book).
    pub fn release(&mut self, wallets: &mut Wallets) {
        let asset = self.locked_asset().to_owned();
        let balance = balance(wallets, &self.wallet, &asset);
        balance.0 += self.reserved;
        balance.1 -= self.reserved;
        self.reserved = Decimal::ZERO;
    }
}
