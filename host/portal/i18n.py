"""Every string the portal shows, in English and Chinese, in one catalogue.

The language is the visitor's choice (the ``lang`` cookie, set by the switch on every
page), else the first of English or Chinese their browser's ``Accept-Language`` names,
else English. A key missing from the catalogue is a bug: :func:`text` raises, and a test
renders every page in both languages.
"""

from __future__ import annotations

__all__ = ["CATALOGUE", "LANGUAGES", "choose", "text"]

LANGUAGES = ("en", "zh")

CATALOGUE: dict[str, tuple[str, str]] = {
    "portal": ("Alliance portal", "联盟门户"),
    "login": ("Log in", "登录"),
    "logout": ("Log out", "退出"),
    "account": ("Account", "账号"),
    "password": ("Password", "密码"),
    "current_password": ("Current password", "当前密码"),
    "new_password": ("New password", "新密码"),
    "repeat_password": ("New password again", "再次输入新密码"),
    "change_password": ("Change password", "修改密码"),
    "password_changed": ("Your password was changed.", "密码已修改。"),
    "passwords_differ": ("The two new passwords differ.", "两次输入的新密码不一致。"),
    "password_rules": ("At least 10 characters.", "至少 10 个字符。"),
    "reset": ("Reset the password with a code", "用重置码重设密码"),
    "reset_code": ("Reset code (from the alliance's operator)", "重置码（由联盟运营方发放）"),
    "reset_done": ("Your password was reset: log in with it.", "密码已重设，请用新密码登录。"),
    "refused": ("The account or the password is wrong.", "账号或密码错误。"),
    "refused_code": ("The account or the reset code is wrong.", "账号或重置码错误。"),
    "throttled": ("Too many failed attempts. Try again in {seconds} seconds.",
                  "失败次数过多，请 {seconds} 秒后再试。"),
    "csrf": ("The form expired: reload the page and send it again.",
             "表单已过期，请刷新页面后重新提交。"),
    "bad_form": ("The form could not be read: send it from the portal's page.",
                 "无法读取表单，请从门户页面提交。"),
    "failed": ("Something went wrong on our side; try again later.",
               "系统出错，请稍后再试。"),
    "not_found": ("Nothing here.", "此处没有内容。"),
    "language": ("Language", "语言"),
    "dashboard": ("Overview", "概览"),
    "welcome": ("Logged in as {login} ({role})", "当前登录：{login}（{role}）"),
    "role_consumer": ("consumer", "消费者"),
    "role_merchant": ("merchant", "商户"),
    "role_insurer": ("insurer", "保险公司"),
    "role_operator": ("operator", "运营方"),
    "points": ("Points per purse", "各积分账户的积分"),
    "purse": ("Purse", "积分账户"),
    "balance": ("Balance", "余额"),
    "history": ("History", "明细"),
    "asset_consumption_points": ("Consumption points", "消费积分"),
    "asset_bank_points": ("Bank points", "银行积分"),
    "asset_credit_points": ("Credit points", "信用积分"),
    "asset_merchant_credit_points": ("Merchant credit points", "商户信用积分"),
    "asset_cny": ("CNY", "人民币"),
    "credit": ("Credit line", "信用额度"),
    "credit_line": ("Credit line (CNY)", "信用额度（元）"),
    "credit_used": ("Used (CNY)", "已用（元）"),
    "credit_why": ("Why the line is what it is", "额度的由来"),
    "no_credit_changes": ("No change to the line yet.", "额度尚无变动。"),
    "cards": ("Cards", "卡片"),
    "card_id": ("Card", "卡号"),
    "limit_pending": ("New limit waiting for the card's next online transaction (CNY)",
                      "等待下次联机交易写入卡片的新额度（元）"),
    "last_online": ("Last seen online", "最近一次联机"),
    "spending": ("Card spending in the last 30 days", "近 30 天刷卡消费"),
    "spending_chart": ("Card spending per merchant, last 30 days (CNY)",
                       "近 30 天各商户刷卡消费（元）"),
    "payments_count": ("Payments", "笔数"),
    "decision_approve": ("approved", "批准"),
    "decision_decline": ("declined", "拒绝"),
    "decision_referral": ("referred", "转人工"),
    "notice_points_earned": ("points earned", "获得积分"),
    "notice_points_redeemed": ("points redeemed", "使用积分"),
    "notice_limit_raised": ("credit line raised", "信用额度提高"),
    "notice_settlement": ("settlement posted", "结算入账"),
    "notice_conversion": ("points converted", "积分兑换"),
    "none": ("none", "无"),
    "notices": ("Notices", "通知"),
    "when": ("When", "时间"),
    "reason": ("Reason", "原因"),
    "source": ("Source", "来源"),
    "counterparty": ("Counterparty", "对方账户"),
    "amount": ("Amount", "金额"),
    "kind": ("Kind", "类型"),
    "no_entries": ("No entries yet.", "暂无记录。"),
    "reason_earn": ("earned", "获得"),
    "reason_redeem": ("redeemed", "兑换消费"),
    "reason_merchant_credit": ("two-way credit points", "双向信用积分"),
    "reason_card_payment": ("card payment", "刷卡支付"),
    "reason_settlement_funding": ("settlement: paid in", "结算：付款"),
    "reason_settlement_payout": ("settlement: paid out", "结算：收款"),
    "reason_conversion": ("converted to money", "兑换现金"),
    "reason_conversion_fee": ("conversion fee", "兑换手续费"),
    "reason_premium": ("insurance premium", "保险费"),
    "reason_hold": ("held", "冻结"),
    "reason_release": ("released", "解冻"),
    "reason_deposit": ("deposit", "存入"),
    "reason_withdrawal": ("withdrawal", "取出"),
    "reason_adjustment": ("adjustment", "调整"),
    "today": ("Today ({day})", "今日（{day}）"),
    "clearing": ("Today's clearing", "今日清算"),
    "batches": ("Batches", "批次"),
    "batch": ("Batch", "批次"),
    "terminal": ("Terminal", "终端"),
    "records": ("Records", "记录数"),
    "payments": ("Payments (CNY)", "支付（元）"),
    "position": ("Settlement position", "结算头寸"),
    "points_awarded": ("Points awarded", "发放积分"),
    "points_redeemed": ("Points redeemed here", "在本店兑换的积分"),
    "funding": ("To fund (CNY)", "应付（元）"),
    "payout": ("To receive (CNY)", "应收（元）"),
    "net": ("Net (CNY, + the alliance pays)", "净额（元，正数为联盟支付）"),
    "settled_days": ("Settled days", "已结算日"),
    "day": ("Day", "日期"),
    "totals": ("All time", "累计"),
    "merchant_credit": ("Credit points and credit line", "信用积分与信用额度"),
    "terminals": ("Terminals", "终端"),
    "since": ("Since", "启用时间"),
    "merchant": ("Merchant", "商户"),
    "members": ("Members", "成员"),
    "member": ("Member", "成员"),
    "name": ("Name", "名称"),
    "outbox": ("Notices' delivery", "通知投递状态"),
    "delivered": ("Delivered", "已投递"),
    "waiting": ("Waiting", "待投递"),
    "oldest_waiting": ("Oldest waiting since", "最早待投递时间"),
    "alliance": ("The alliance", "联盟"),
    "agreements": ("Agreements", "积分协议"),
    "agreement": ("Agreement", "协议"),
    "issuer": ("Issuer", "发放方"),
    "group": ("Consumer group", "消费者分组"),
    "rate": ("Points per CNY", "每元积分"),
    "valid_from": ("Valid from", "生效时间"),
    "reconciliation": ("Daily settlement", "每日结算"),
    "merchants": ("Merchants", "商户数"),
    "funded": ("Funded by merchants (CNY)", "商户付款（元）"),
    "paid_out": ("Paid to merchants (CNY)", "付给商户（元）"),
    "premiums": ("Premiums received", "已收保费"),
    "policy": ("Policy", "保单"),
    "holder": ("Paid by", "付款人"),
    "total": ("Total", "合计"),
    "position_chart": ("Today's points", "今日积分"),
    "waiting_chart": ("Notices waiting per kind", "各类待投递通知"),
    "premiums_chart": ("Premiums per policy (CNY)", "各保单保费（元）"),
    "points_chart": ("Points per purse", "各积分账户积分"),
    "chart_table": ("The same figures as a table", "图中数据列表"),
    "skip": ("Skip to the content", "跳到正文"),
}


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The language to show: the cookie's, else the browser's first of ours, else English."""
    if cookie in LANGUAGES:
        return cookie
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        for language in LANGUAGES:
            if tag == language or tag.startswith(language + "-"):
                return language
    return "en"


def text(key: str, language: str, **values: object) -> str:
    """The catalogue's string ``key`` in ``language``, with ``values`` filled in."""
    english, chinese = CATALOGUE[key]
    template = chinese if language == "zh" else english
    return template.format(**values) if values else template
